// What a statement says, from an operator's request: the same for the offline CLI and the
// running node's admin API, so that `ics status set` means one thing whichever way it runs.
import { IcsError } from '../errors.ts';
import type { PolicyEngine } from '../policy/index.ts';
import { type Role, ROLES, type StatementInput } from '../record/index.ts';

/** A statement as an operator asks for it (CLI flags, or an admin API body). */
export interface StatementRequest {
  readonly role?: string;
  readonly status?: string;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The first role the policy trusts `fingerprint` for: the default role of its statements. */
export function defaultRole(policy: PolicyEngine, fingerprint: string): Role | undefined {
  return policy.policy.trust.issuers.find((i) => i.fingerprint === fingerprint)?.roles[0];
}

/** The statement `signer` makes: the asked role, else the one the policy trusts it for. */
export function statementInput(policy: PolicyEngine, request: StatementRequest, signerFingerprint: string): StatementInput {
  const role = request.role ?? defaultRole(policy, signerFingerprint);
  if (!role || !(ROLES as readonly string[]).includes(role)) throw new IcsError('BAD_REQUEST', `the role must be one of ${ROLES.join(', ')}`);
  return {
    role: role as Role,
    ...(request.status !== undefined && { status: request.status }),
    allow: [...(request.allow ?? [])],
    deny: [...(request.deny ?? [])],
    metadata: { ...(request.metadata ?? {}) },
  };
}
