// The one read rule of every front end: a stored record is readable by a principal when one
// of its stored domains is readable by that principal under the current policy engine
// (PolicyEngine.canRead). A record the principal may not read is answered as absent, and
// the domains it may not read are never named to it, so private domains do not leak which
// records they hold.
import type { PolicyEngine } from './engine.ts';
import type { Principal } from './types.ts';

/** What the rule needs of a stored record: the domains the store filed it under. */
export interface Filed {
  readonly domains: readonly string[];
}

/** The rule over a set of readable domains: one of the record's domains is among them. */
export function inReadableDomain(record: Filed, readable: ReadonlySet<string>): boolean {
  for (const d of record.domains) if (readable.has(d)) return true;
  return false;
}

/** The record's domains among the readable ones: the only ones its reader may be told about. */
export function readableDomainsOf(record: Filed, readable: ReadonlySet<string>): string[] {
  return record.domains.filter((d) => readable.has(d));
}

/** What one principal may read under one engine. */
export class ReadScope {
  /** The readable domains, in policy order. */
  readonly readable: readonly string[];
  readonly readableSet: ReadonlySet<string>;

  constructor(
    readonly engine: PolicyEngine,
    readonly principal: Principal,
  ) {
    this.readable = engine.readableDomains(principal);
    this.readableSet = new Set(this.readable);
  }

  mayRead(record: Filed): boolean {
    return inReadableDomain(record, this.readableSet);
  }

  /** The record's domains this principal may read: the only ones it may be told about. */
  domainsOf(record: Filed): string[] {
    return readableDomainsOf(record, this.readableSet);
  }
}

// Scopes per engine: engines are immutable and replaced on reload, so a scope never goes
// stale and is dropped with its engine. Anonymous callers share one scope; others are kept
// per principal object, which callers hold for a session or an authentication's lifetime.
const anonymousScopes = new WeakMap<PolicyEngine, ReadScope>();
const principalScopes = new WeakMap<PolicyEngine, WeakMap<Principal, ReadScope>>();

/** The principal's read scope under `engine`, made once per engine and principal. */
export function readScope(engine: PolicyEngine, principal: Principal): ReadScope {
  if (principal.kind === 'anonymous') {
    let scope = anonymousScopes.get(engine);
    if (!scope) {
      scope = new ReadScope(engine, principal);
      anonymousScopes.set(engine, scope);
    }
    return scope;
  }
  let scopes = principalScopes.get(engine);
  if (!scopes) {
    scopes = new WeakMap();
    principalScopes.set(engine, scopes);
  }
  let scope = scopes.get(principal);
  if (!scope) {
    scope = new ReadScope(engine, principal);
    scopes.set(principal, scope);
  }
  return scope;
}

/** True when `principal` may read `record` under `engine` (see the header). */
export function mayRead(engine: PolicyEngine, principal: Principal, record: Filed): boolean {
  return readScope(engine, principal).mayRead(record);
}
