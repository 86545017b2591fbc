// Checks across fields that a JSON Schema cannot express: names unique, references that
// resolve, rules that could never be met. Runs on the raw document (defaults filled in)
// and reads it defensively, so that its problems are reported together with the schema's.
// trustGaps reports, on a loaded policy, what is valid but not yet usable.
import type { Role } from '../record/index.ts';
import { durationSeconds } from './duration.ts';
import { type PathProblem, pointer } from './schema.ts';
import type { Policy } from './types.ts';

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
    // The schema checks the form of a date-time; this catches e.g. month 13.
    const dateAt = (value: unknown, at: Segments) => {
      const text = str(value);
      if (text !== undefined && !Number.isFinite(Date.parse(text))) add(at, `"${text}" is not a valid date-time`);
    };
    dateAt(obj(issuer.revoked).at, ['trust', 'issuers', i, 'revoked', 'at']);
    dateAt(issuer.expires, ['trust', 'issuers', i, 'expires']);
  });

  /** Issuers that may sign as `role` in domain `domain`. */
  const signersOf = (role: string, domain: string) =>
    issuers.filter((i) => strings(i.roles).includes(role) && (i.domains === undefined || strings(i.domains).includes(domain)));

  domains.forEach((domain, d) => {
    const name = str(domain.name) ?? '';
    const writable = strings(obj(domain.write).roles);
    // A role no trusted issuer may sign in yet is not an error: a fresh node trusts only
    // itself until the operator adds issuers one by one (see trustGaps).
    const needed = (role: string, at: Segments) => {
      if (!writable.includes(role)) add(at, `role ${role} is required here but not in write.roles, so its signatures would be dropped`);
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
  const profile = obj(obj(doc.enrol).profile);
  const lifetime = durationSeconds(str(profile.lifetime) ?? '');
  const window = durationSeconds(str(profile.renewalWindow) ?? '');
  if (lifetime !== undefined && window !== undefined && window >= lifetime) {
    add(['enrol', 'profile', 'renewalWindow'], `must be shorter than the lifetime (${str(profile.lifetime)}), or devices would renew as soon as they enrol`);
  }
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

/** A role a domain needs (select.signedBy, accept.requireRoles) that no trusted issuer may sign in there. */
export interface TrustGap {
  readonly domain: string;
  readonly role: Role;
  /** JSON pointer of the rule that needs the role. */
  readonly path: string;
}

/**
 * Roles each domain needs but no trust.issuers entry may sign in there: until an issuer is
 * trusted for them the domain holds no record. Normal on a fresh node, a mistake otherwise,
 * so the node reports them instead of refusing the policy.
 */
export function trustGaps(policy: Policy): TrustGap[] {
  const gaps: TrustGap[] = [];
  const canSign = (role: Role, domain: string) =>
    policy.trust.issuers.some((i) => i.roles.includes(role) && (i.domains === undefined || i.domains.includes(domain)));
  policy.domains.forEach((domain, d) => {
    const needs: Array<[Role, string]> = [];
    if (domain.select.signedBy) needs.push([domain.select.signedBy.role, pointer(['domains', d, 'select', 'signedBy', 'role'])]);
    domain.accept.requireRoles.forEach((role, j) => needs.push([role, pointer(['domains', d, 'accept', 'requireRoles', j])]));
    const seen = new Set<Role>();
    for (const [role, path] of needs) {
      if (seen.has(role) || canSign(role, domain.name)) continue;
      seen.add(role);
      gaps.push({ domain: domain.name, role, path });
    }
  });
  return gaps;
}
