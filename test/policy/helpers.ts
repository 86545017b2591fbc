// Fixtures for the policy tests: a policy over the shared test issuers, records in each of
// its domains, and small helpers to assert on IcsError codes and details.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { type IcsError, isIcsError } from '../../ics/errors.ts';
import { PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import {
  armor,
  certify,
  codeStatement,
  generateIdentity,
  type KeyRecord,
  type NewIdentity,
  parseKeyRecord,
  signCode,
} from '../../ics/record/index.ts';
import { type Fixture, fixture, minutesAgo } from '../helpers/identities.ts';

/** base58btc strings of peer-id length (not real keys: the policy checks only the form). */
export const PEER_A = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';
export const PEER_B = '12D3KooWHf2QGgrwrf7q2WpCVo8D5E4Fk4VcMUsLpGM3aEwQWaBx';

export interface PolicyFixture extends Fixture {
  developer: NewIdentity;
}

let cached: Promise<PolicyFixture> | undefined;

export function policyFixture(): Promise<PolicyFixture> {
  cached ??= (async () => {
    const f = await fixture();
    const developer = await generateIdentity({ userId: 'urn:cm4it:org:firmware.acme.example' });
    return { ...f, developer };
  })();
  return cached;
}

/** A test policy in editable parts; `policyObject` assembles the file's value. */
export interface DomainDraft {
  name: string;
  select: Record<string, unknown>;
  accept?: { requireRoles: string[] };
  write?: { roles: string[] };
  read: unknown;
  limits?: Record<string, number>;
  verdict?: Record<string, unknown>;
}

export interface PolicyDraft {
  issuers: Array<Record<string, unknown>>;
  devices: DomainDraft;
  system: DomainDraft;
  firmware: DomainDraft;
  peers: Array<Record<string, unknown>>;
}

/**
 * Three domains: ACME `devices` (manufacturer-signed; integrators may not write there),
 * the `system` of site A (integrator-signed), and `firmware` (code by the developer,
 * endorsed by the certifier). The developer is trusted in `firmware` only.
 */
export function testPolicyDraft(f: PolicyFixture): PolicyDraft {
  return {
    issuers: [
      { name: 'acme', fingerprint: f.manufacturer.record.id.toUpperCase(), roles: ['manufacturer'] },
      { name: 'integrator', fingerprint: f.integrator.record.id, roles: ['integrator', 'maintainer'] },
      { name: 'notified-body', fingerprint: f.certifier.record.id, roles: ['certifier'] },
      { name: 'developer', fingerprint: f.developer.record.id, roles: ['developer'], domains: ['firmware'] },
    ],
    devices: {
      name: 'devices',
      select: { kinds: ['device', 'gateway'], userId: 'urn:cm4it:device:acme.example:*', signedBy: { role: 'manufacturer' } },
      accept: { requireRoles: ['manufacturer'] },
      write: { roles: ['manufacturer', 'certifier'] },
      read: 'public',
    },
    system: {
      name: 'system',
      select: { kinds: ['device', 'gateway', 'service'], userId: 'urn:cm4it:*:acme.example:site-a:*', signedBy: { role: 'integrator' } },
      accept: { requireRoles: ['integrator'] },
      write: { roles: ['manufacturer', 'integrator', 'maintainer', 'owner', 'certifier'] },
      read: { peers: [PEER_A], authenticated: true },
      verdict: { requiredRoles: ['manufacturer', 'integrator'] },
    },
    firmware: {
      name: 'firmware',
      select: { kinds: ['code'], userId: 'acme-*@*', signedBy: { role: 'developer' } },
      accept: { requireRoles: ['developer', 'certifier'] },
      write: { roles: ['developer', 'certifier'] },
      read: { peers: [PEER_B] },
    },
    peers: [{ name: 'site-b', peerId: PEER_B, pull: ['firmware'], push: ['firmware'] }],
  };
}

export function policyObject(d: PolicyDraft): Record<string, unknown> {
  return { version: 1, trust: { issuers: d.issuers }, domains: [d.devices, d.system, d.firmware], sync: { peers: d.peers } };
}

export async function testEngine(f: PolicyFixture, edit?: (draft: PolicyDraft) => void): Promise<PolicyEngine> {
  const draft = testPolicyDraft(f);
  edit?.(draft);
  const issuers = [f.manufacturer, f.integrator, f.certifier, f.developer].map((i) => i.record);
  return PolicyEngine.create(policyFromObject(policyObject(draft), 'test-policy.yaml'), issuers);
}

let serial = 0;

/** A new device key with the given user ID, certified in turn by each of `by`. */
export async function device(
  userId: string,
  by: ReadonlyArray<{ issuer: NewIdentity; role: Parameters<typeof certify>[2]['role']; status?: string }>,
): Promise<KeyRecord> {
  serial += 1;
  const at = minutesAgo(120 - serial / 100);
  let { record } = await generateIdentity({ userId, created: new Date(at.getTime() - 60_000) });
  for (const { issuer, role, status } of by) {
    record = await certify(record, issuer.privateKey, { role, ...(status && { status }) }, { created: at });
  }
  return record;
}

export const acmeDeviceId = () => `urn:cm4it:device:acme.example:cam-3:SN${String(++serial).padStart(6, '0')}`;
export const siteDeviceId = () => `urn:cm4it:device:acme.example:site-a:cam-${++serial}`;

/** A code record signed by the developer (released) and, when asked, endorsed by the certifier. */
export async function firmware(f: PolicyFixture, name = 'acme-cam-fw', options: { endorsed?: boolean } = {}) {
  const statement = codeStatement(name, `3.2.${++serial}`, { sha256: 'ab'.repeat(32) });
  let code = await signCode(statement, f.developer.privateKey, { role: 'developer', status: 'released' }, { created: minutesAgo(60) });
  if (options.endorsed) {
    code = await signCode(statement, f.certifier.privateKey, { role: 'certifier' }, { created: minutesAgo(50), record: code });
  }
  return code;
}

/** A certification without any cm4it notation, as plain `gpg --sign-key` makes. */
export async function plainCertification(record: KeyRecord, issuer: NewIdentity, f: Fixture): Promise<KeyRecord> {
  const key = await openpgp.readKey({ armoredKey: armor('publicKey', record.bytes) });
  const signed = await key.signAllUsers([issuer.privateKey], new Date());
  const { record: parsed } = await parseKeyRecord(signed.write(), { issuers: f.ring });
  return parsed;
}

/** Asserts that `run` throws an IcsError with `code`, and returns it for checks on its details. */
export async function rejection(run: () => unknown, code: IcsError['code']): Promise<IcsError> {
  try {
    await run();
  } catch (error) {
    assert.ok(isIcsError(error, code), `expected ${code}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

export interface FileErrorLike {
  file: string;
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** The `details.errors` of a CONFIG_INVALID error. */
export function fileErrors(error: IcsError): FileErrorLike[] {
  return (error.details?.errors ?? []) as FileErrorLike[];
}

export { minutesAgo };
