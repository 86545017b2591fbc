// A TLS server certificate for a listener of the node (EST's), issued by the node's CA at
// start: a fresh P-256 key that lives in memory only, the host names and addresses the
// listener answers to, serverAuth. A device that trusts the CA's chain (cacerts) trusts it.
import { isIP } from 'node:net';
import type { UnlockedAuthority } from './ca.ts';
import { isSelfSigned } from './chain.ts';
import { generatePrivateKey, spkiOf } from './keys.ts';
import { SERVER_CERTIFICATE_SECONDS } from './limits.ts';

export interface ServerCredentials {
  /** PEM: the certificate, then the CA's chain up to (not including) the root. */
  readonly cert: string;
  /** PEM PKCS#8, unencrypted: for the TLS server in this process only; never written or logged. */
  readonly key: string;
  readonly notAfter: Date;
}

/** The names of a certificate for `hosts` (names or addresses), plus localhost and the loopback addresses. */
function subjectNames(hosts: readonly string[]): { dns: string[]; ips: string[] } {
  const all = [...new Set([...hosts, 'localhost', '127.0.0.1', '::1'])].filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::');
  return { dns: all.filter((h) => isIP(h) === 0), ips: all.filter((h) => isIP(h) !== 0) };
}

export async function issueServerCertificate(authority: UnlockedAuthority, hosts: readonly string[], now = new Date()): Promise<ServerCredentials> {
  const key = generatePrivateKey('p256');
  const { dns, ips } = subjectNames(hosts);
  // Never past the CA's own end: a chain with an expired CA fails anyway.
  const lifetimeSeconds = Math.min(SERVER_CERTIFICATE_SECONDS, Math.floor((authority.certificate.notAfter.getTime() - now.getTime()) / 1000));
  const issued = await authority.issue({
    subject: [['CN', dns[0] ?? ips[0] ?? 'localhost']],
    publicKey: spkiOf(key),
    sanDnsNames: dns,
    sanIpAddresses: ips,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth'],
    lifetimeSeconds,
    now,
  });
  const issuers = [];
  for (const c of authority.chain) if (!(await isSelfSigned(c))) issuers.push(`${c.toString('pem')}\n`);
  return { cert: issued.pem + issuers.join(''), key: key.export({ type: 'pkcs8', format: 'pem' }) as string, notAfter: issued.notAfter };
}
