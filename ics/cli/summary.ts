// What `ics serve` tells a person at a terminal once it is ready: where it serves, what it
// holds, whom it trusts, and what to do next. The JSON log lines (stderr) say the same for
// machines; this text goes to stdout only when stdout is a terminal.
import { relative } from 'node:path';

export interface ServeSummary {
  readonly name: string;
  readonly role: string;
  readonly dataDir: string;
  readonly hkp: string | null;
  readonly ldap: string | null;
  readonly p2p: { readonly peerId: string; readonly addresses: readonly string[] } | null;
  /** Absent in summaries from before EST. */
  readonly est?: string | null;
  readonly records: number;
  readonly domains: readonly string[];
  /** The policy's trusted issuers; `own` marks the node's own issuer key. */
  readonly issuers: ReadonlyArray<{ readonly name: string; readonly fingerprint: string; readonly roles: readonly string[]; readonly own: boolean }>;
  /** Where the node's issuer private key is: "file", or the PKCS#11 token and object. */
  readonly issuerKey?: string;
}

/** A path as the user would type it from the current directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : `./${rel}`;
}

export function formatServeSummary(s: ServeSummary): string {
  const data = shown(s.dataDir);
  const lines = [`ICS node "${s.name}" (role ${s.role}) is serving ${data}`];
  const hkp = s.hkp?.replace(/^http:/, 'hkp:').replace(/^https:/, 'hkps:');
  lines.push(`  HKP / JSON API  ${s.hkp ? `${s.hkp}  (gpg --keyserver ${hkp})` : 'off'}`);
  lines.push(`  LDAP            ${s.ldap ?? 'off'}`);
  lines.push(`  sync (libp2p)   ${s.p2p ? (s.p2p.addresses[0] ?? s.p2p.peerId) : 'off'}`);
  if (s.est) lines.push(`  EST             ${s.est}/.well-known/est/  (mutual TLS)`);
  lines.push(`  records         ${s.records} in ${s.domains.length === 1 ? 'domain' : 'domains'} ${s.domains.join(', ') || '(none)'}`);
  const others = s.issuers.filter((i) => !i.own);
  lines.push('  trusted issuers');
  for (const i of s.issuers) {
    lines.push(`    ${i.fingerprint}  ${i.name} as ${i.roles.join(', ')}${i.own ? ` (this node${s.issuerKey && s.issuerKey !== 'file' ? `; key in ${s.issuerKey}` : ''})` : ''}`);
  }
  if (others.length === 0) lines.push('    no other issuer yet: third-party signatures are dropped until you trust one');
  lines.push('');
  lines.push('Next');
  if (s.hkp) {
    lines.push(`  look:          curl -s ${s.hkp}/ics/v1/status`);
    lines.push(`  send a key:    gpg --keyserver ${hkp} --send-keys <FINGERPRINT>`);
  }
  lines.push(`  trust issuers: stop the node (Ctrl-C), then ics trust add --data ${data} --key ISSUER.asc --roles manufacturer`);
  lines.push('Stop with Ctrl-C; logs are JSON lines on stderr.');
  return `${lines.join('\n')}\n`;
}
