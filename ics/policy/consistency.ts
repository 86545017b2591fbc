// Checks across fields that a JSON Schema cannot express: names unique, references that
// resolve, rules that could never be met. Runs on the raw document (defaults filled in)
// and reads it defensively, so that its problems are reported together with the schema's.
import { type PathProblem, pointer } from './schema.ts';

type Raw = Record<string, unknown>;
type Segments = ReadonlyArray<string | number>;

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => list(v).filter((x): x is string => typeof x === 'string');

export function crossFieldProblems(raw: unknown): PathProblem[] {
  const problems: PathProblem[] = [];
  const add = (segments: Segments, message: string) => problems.push({ path: pointer(segments), message });
  const doc = obj(raw);
  const domains = list(doc.domains).map(obj);
  const issuers = list(obj(doc.trust).issuers).map(obj);
  const peers = list(obj(doc.sync).peers).map(obj);

  const domainIndex = firstIndexes(domains, (d) => str(d.name), ['domains'], 'name', 'domain', add);
  const issuerIndex = firstIndexes(issuers, (i) => str(i.name), ['trust', 'issuers'], 'name', 'issuer', add);
  firstIndexes(issuers, (i) => str(i.fingerprint)?.toLowerCase(), ['trust', 'issuers'], 'fingerprint', 'fingerprint', add);
  firstIndexes(peers, (p) => str(p.name), ['sync', 'peers'], 'name', 'peer', add);
  firstIndexes(peers, (p) => str(p.peerId), ['sync', 'peers'], 'peerId', 'peer id', add);

  const unknownDomain = (name: string, at: Segments) => {
    if (!domainIndex.has(name)) add(at, `no domain named "${name}" in this policy`);
  };
  issuers.forEach((issuer, i) => {
    strings(issuer.domains).forEach((name, j) => unknownDomain(name, ['trust', 'issuers', i, 'domains', j]));
  });

  /** Issuers that may sign as `role` in domain `domain`. */
  const signersOf = (role: string, domain: string) =>
    issuers.filter((i) => strings(i.roles).includes(role) && (i.domains === undefined || strings(i.domains).includes(domain)));

  domains.forEach((domain, d) => {
    const name = str(domain.name) ?? '';
    const writable = strings(obj(domain.write).roles);
    const needed = (role: string, at: Segments) => {
      if (!writable.includes(role)) add(at, `role ${role} is required here but not in write.roles, so its signatures would be dropped`);
      else if (signersOf(role, name).length === 0) {
        add(at, `no trust.issuers entry may sign as ${role} in domain "${name}", so the domain could never hold a record`);
      }
    };
    const signedBy = obj(obj(domain.select).signedBy);
    const signedByRole = str(signedBy.role);
    if (signedByRole !== undefined) needed(signedByRole, ['domains', d, 'select', 'signedBy', 'role']);
    const issuerName = str(signedBy.issuer);
    if (issuerName !== undefined && signedByRole !== undefined) {
      const at = ['domains', d, 'select', 'signedBy', 'issuer'];
      const index = issuerIndex.get(issuerName);
      const issuer = index === undefined ? undefined : issuers[index];
      if (!issuer) add(at, `no trust.issuers entry named "${issuerName}"`);
      else if (!signersOf(signedByRole, name).includes(issuer))
        add(at, `issuer "${issuerName}" may not sign as ${signedByRole} in domain "${name}"`);
    }
    strings(obj(domain.accept).requireRoles).forEach((role, j) => needed(role, ['domains', d, 'accept', 'requireRoles', j]));
  });

  peers.forEach((peer, p) => {
    strings(peer.pull).forEach((name, j) => unknownDomain(name, ['sync', 'peers', p, 'pull', j]));
    strings(peer.push).forEach((name, j) => {
      const at = ['sync', 'peers', p, 'push', j];
      const index = domainIndex.get(name);
      if (index === undefined) return unknownDomain(name, at);
      const read = domains[index]?.read;
      if (read !== 'public' && !strings(obj(read).peers).includes(str(peer.peerId) ?? '')) {
        add(at, `peer "${str(peer.name)}" may not read domain "${name}" (add its peer id to the domain's read.peers)`);
      }
    });
  });
  return problems;
}

/** Index of the first item with each key; later items with a key already seen are problems. */
function firstIndexes(
  items: readonly Raw[],
  keyOf: (item: Raw) => string | undefined,
  base: Segments,
  field: string,
  what: string,
  add: (segments: Segments, message: string) => void,
): Map<string, number> {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined) return;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, i);
    else add([...base, i, field], `${what} "${key}" is already used at ${pointer([...base, seen])}`);
  });
  return first;
}
