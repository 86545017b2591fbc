// Distinguished names (RFC 5280 §4.1.2.4) for subjects: from an operator's text
// ("CN=Acme issuing CA,O=Acme") or from attribute pairs made by code. @peculiar/x509 knows
// "SN" as surname (X.520), so serialNumber (2.5.4.5, which 802.1AR puts in a device's
// subject) is registered here under its X.520 name.
import { IcsError } from '../errors.ts';
import { x509 } from './x509.ts';

const EXTRA_NAMES = { serialNumber: '2.5.4.5' };

/** Ordered attributes, each `[type, value]`, e.g. `[['serialNumber', 'SN1'], ['CN', 'urn:…']]`. */
export type NameAttributes = ReadonlyArray<readonly [type: string, value: string]>;

/** Text (RFC 4514 style, as @peculiar/x509 reads it) or attributes. */
export type DistinguishedName = string | NameAttributes;

export function distinguishedName(name: DistinguishedName): x509.Name {
  let parsed: x509.Name;
  try {
    parsed = typeof name === 'string' ? new x509.Name(name, EXTRA_NAMES) : new x509.Name(name.map(([type, value]) => ({ [type]: [value] })), EXTRA_NAMES);
  } catch (cause) {
    throw new IcsError('BAD_REQUEST', `invalid distinguished name ${JSON.stringify(describe(name))} (e.g. "CN=Acme root CA,O=Acme")`, { cause });
  }
  const attributes = parsed.toJSON().flatMap((rdn) => Object.values(rdn).flat());
  if (attributes.length === 0 || attributes.some((value) => value.length === 0)) {
    throw new IcsError('BAD_REQUEST', `invalid distinguished name ${JSON.stringify(describe(name))}: no attribute, or an empty value`);
  }
  return parsed;
}

/** A name as text, serialNumber named as such. */
export function nameText(name: x509.Name): string {
  return new x509.Name(name.toArrayBuffer(), EXTRA_NAMES).toString();
}

function describe(name: DistinguishedName): string {
  return typeof name === 'string' ? name : name.map(([t, v]) => `${t}=${v}`).join(',');
}

/** A name's attributes in order, as `[type, value]`, serialNumber named as such (other unknown types by OID). */
export function nameAttributes(name: x509.Name): Array<[type: string, value: string]> {
  return new x509.Name(name.toArrayBuffer(), EXTRA_NAMES)
    .toJSON()
    .flatMap((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value): [string, string] => [type, value])));
}

/**
 * The first CN of a certificate's subject: the identity TLS servers such as mosquitto
 * (use_identity_as_username) take for the client. Undefined when the subject has none (a
 * device URN longer than a CN may be).
 */
export function commonNameOf(der: Uint8Array): string | undefined {
  const subject = new x509.X509Certificate(new Uint8Array(der)).subjectName;
  return nameAttributes(subject).find(([type]) => type === 'CN')?.[1];
}
