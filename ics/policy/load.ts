// Loading a policy: text (YAML or JSON) to a value, defaults and schema check, cross-field
// checks, then normalised and deep-frozen. Every problem of a file is reported at once, each
// with its file and JSON path, in one CONFIG_INVALID error.
import { readFile } from 'node:fs/promises';
import { IcsError } from '../errors.ts';
import type { AfterIssuerEnd, EntityKind, RevocationReason, Role } from '../record/index.ts';
import { crossFieldProblems } from './consistency.ts';
import { formatOf, type PolicyDocument, readDocument } from './document.ts';
import { durationSeconds } from './duration.ts';
import { type PathProblem, pointerSegments, schemaProblems } from './schema.ts';
import type { DomainPolicy, EnrolKeyType, EnrolPolicy, Policy, PolicyFileError, SyncPeer, TrustedIssuerEntry } from './types.ts';

/** A policy is written by hand; a file this large is a mistake, not a policy. */
export const MAX_POLICY_BYTES = 1024 * 1024;

/** Parses policy text; `source` names the file (format by extension, else by content). */
export function parsePolicy(text: string, source: string): Policy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    throw invalid([{ file: source, path: '', message: `file is larger than ${MAX_POLICY_BYTES} bytes` }]);
  }
  // A byte-order mark is legal at the start of a UTF-8 file but not in JSON.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const doc = readDocument(body, formatOf(source, body));
  if (doc.problems.length > 0) {
    throw invalid(doc.problems.map((p) => ({ file: source, path: '', ...p })));
  }
  return build(doc.value, source, doc);
}

export async function loadPolicy(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw invalid([{ file: path, path: '', message: `cannot read the policy file (${code})` }], cause);
  }
  return parsePolicy(text, path);
}

/** Checks an already parsed value (a copy of it is taken) as if it had been read from `source`. */
export function policyFromObject(value: unknown, source: string): Policy {
  return build(structuredClone(value), source, undefined);
}

function build(value: unknown, source: string, doc: PolicyDocument | undefined): Policy {
  const problems: PathProblem[] = [...schemaProblems(value), ...crossFieldProblems(value)];
  if (problems.length > 0) {
    throw invalid(
      problems.map((p) => {
        const at = doc?.locate(pointerSegments(p.path));
        return { file: source, path: p.path, message: p.message, ...(at && { line: at.line, column: at.column }) };
      }),
    );
  }
  return deepFreeze(normalise(value as RawPolicy, source));
}

function invalid(errors: PolicyFileError[], cause?: unknown): IcsError {
  const lines = errors.map((e) => {
    const where = e.line === undefined ? '' : ` (line ${e.line}${e.column === undefined ? '' : `, column ${e.column}`})`;
    return `  ${e.file}: ${e.path || '/'}: ${e.message}${where}`;
  });
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  return new IcsError('CONFIG_INVALID', `invalid policy (${count}):\n${lines.join('\n')}`, { cause, details: { errors } });
}

/** The file's shape once the schema has passed and filled in its defaults. */
interface RawPolicy {
  version: 1;
  trust: {
    issuers: Array<{
      name: string;
      fingerprint: string;
      roles: Role[];
      domains?: string[];
      key?: string;
      revoked?: { at: string; reason: RevocationReason; comment?: string };
      expires?: string;
    }>;
    afterIssuerRevocation: AfterIssuerEnd;
    afterIssuerExpiry: AfterIssuerEnd;
  };
  domains: Array<{
    name: string;
    description?: string;
    select: { kinds?: EntityKind[]; userId?: string; signedBy?: { role: Role; issuer?: string } };
    accept: { requireRoles: Role[] };
    write: { roles: Role[] };
    read: 'public' | { peers: string[]; authenticated: boolean; users: string[]; groups: string[] };
    limits: { maxRecordBytes: number; maxSignaturesPerSigner: number };
    verdict: {
      requiredRoles?: Role[];
      statusSetters?: Role[];
      trustedStatuses?: string[];
      terminalStatuses?: string[];
      allowMissingStatus: boolean;
    };
  }>;
  sync: { peers: Array<{ name: string; peerId: string; addresses: string[]; pull: string[]; push: string[]; intervalSeconds: number }> };
  enrol?: {
    birthCAs: string[];
    requireRoles: Role[];
    profile: { lifetime: string; renewalWindow: string; keyTypes: EnrolKeyType[] };
    approval: EnrolPolicy['approval'];
    bootstrap: EnrolPolicy['bootstrap'];
    revocation: { crlValidity: string; revokeOnRenewal: boolean };
  };
}

/** Copies field by field into the in-memory types; optional fields stay absent when absent. */
function normalise(raw: RawPolicy, source: string): Policy {
  const issuers = raw.trust.issuers.map(
    (i): TrustedIssuerEntry => ({
      name: i.name,
      fingerprint: i.fingerprint.toLowerCase(),
      roles: [...i.roles],
      ...(i.domains && { domains: [...i.domains] }),
      ...(i.key !== undefined && { key: i.key }),
      ...(i.revoked && {
        revoked: {
          at: new Date(i.revoked.at),
          reason: i.revoked.reason,
          ...(i.revoked.comment !== undefined && { comment: i.revoked.comment }),
        },
      }),
      ...(i.expires !== undefined && { expires: new Date(i.expires) }),
    }),
  );
  const domains = raw.domains.map((d): DomainPolicy => {
    const { kinds, userId, signedBy } = d.select;
    const v = d.verdict;
    return {
      name: d.name,
      ...(d.description !== undefined && { description: d.description }),
      select: {
        ...(kinds && { kinds: [...kinds] }),
        ...(userId !== undefined && { userId }),
        ...(signedBy && { signedBy: { role: signedBy.role, ...(signedBy.issuer !== undefined && { issuer: signedBy.issuer }) } }),
      },
      accept: { requireRoles: [...d.accept.requireRoles] },
      write: { roles: [...d.write.roles] },
      read:
        d.read === 'public'
          ? { public: true }
          : { public: false, peers: [...d.read.peers], authenticated: d.read.authenticated, users: [...d.read.users], groups: [...d.read.groups] },
      limits: { maxRecordBytes: d.limits.maxRecordBytes, maxSignaturesPerSigner: d.limits.maxSignaturesPerSigner },
      verdict: {
        requiredRoles: [...(v.requiredRoles ?? d.accept.requireRoles)],
        ...(v.statusSetters && { statusSetters: [...v.statusSetters] }),
        ...(v.trustedStatuses && { trustedStatuses: [...v.trustedStatuses] }),
        ...(v.terminalStatuses && { terminalStatuses: [...v.terminalStatuses] }),
        allowMissingStatus: v.allowMissingStatus,
      },
    };
  });
  const peers = raw.sync.peers.map(
    (p): SyncPeer => ({
      name: p.name,
      peerId: p.peerId,
      addresses: [...p.addresses],
      pull: [...p.pull],
      push: [...p.push],
      intervalSeconds: p.intervalSeconds,
    }),
  );
  const { afterIssuerRevocation, afterIssuerExpiry } = raw.trust;
  const enrol = raw.enrol && normaliseEnrol(raw.enrol);
  return { version: 1, source, trust: { issuers, afterIssuerRevocation, afterIssuerExpiry }, domains, sync: { peers }, ...(enrol && { enrol }) };
}

function normaliseEnrol(raw: NonNullable<RawPolicy['enrol']>): EnrolPolicy {
  // The schema's pattern guarantees a duration here.
  const seconds = (text: string) => durationSeconds(text) ?? Number.NaN;
  return {
    birthCAs: [...raw.birthCAs],
    requireRoles: [...raw.requireRoles],
    profile: {
      lifetimeSeconds: seconds(raw.profile.lifetime),
      renewalWindowSeconds: seconds(raw.profile.renewalWindow),
      keyTypes: [...raw.profile.keyTypes],
    },
    approval: raw.approval,
    bootstrap: raw.bootstrap,
    revocation: { crlValiditySeconds: seconds(raw.revocation.crlValidity), revokeOnRenewal: raw.revocation.revokeOnRenewal },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
