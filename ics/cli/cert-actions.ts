// What `ics cert list | show` do (their definitions are in cert-commands.ts): read the
// certificate index from the data directory's store.
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import type { RevocationAnswer } from '../enrol/index.ts';
import { IcsError, isIcsError } from '../errors.ts';
import { normaliseSerial } from '../enrol/revocation-requests.ts';
import { type CertificateEntry, certificatePemOf, certificateSummary } from '../store/index.ts';
import { DataDir } from '../node/offline.ts';
import { parseDuration } from './args.ts';
import { print, resolveRecord, withNode } from './context.ts';
import type { GlobalOptions } from './options.ts';

/** Most certificates one `ics cert list` prints: a fleet's worth; narrow with --record or --expiring. */
const LIST_LIMIT = 10_000;
/** notAfter beyond every certificate: "all of them" to the index's expiry order. */
const END_OF_TIME = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

export type CertListFlags = GlobalOptions & { record?: string; expiring?: string };

export async function certList(flags: CertListFlags): Promise<void> {
  const within = flags.expiring === undefined ? undefined : parseDuration(flags.expiring);
  await withNode(flags, async (node) => {
    const now = new Date();
    const before = within === undefined ? END_OF_TIME : new Date(now.getTime() + within * 1000);
    let entries: CertificateEntry[];
    if (flags.record !== undefined) {
      const record = await resolveRecord(node, flags.record);
      entries = (await node.store.certificatesOf(record.id)).filter((e) => e.notAfter.getTime() < before.getTime());
    } else {
      entries = await node.store.expiringBefore(before, LIST_LIMIT);
    }
    const listed = entries.map((e) => certificateSummary(e, now));
    print(flags, listed, () =>
      listed.length === 0
        ? 'no certificates'
        : listed.map((c) => `${c.serial}  ${c.purpose.padEnd(11)} ${c.state.padEnd(7)} until ${c.notAfter.toISOString()}  record ${c.record}`).join('\n'),
    );
  });
}

export async function certShow(serial: string, flags: GlobalOptions): Promise<void> {
  const wanted = normaliseSerial(serial);
  await withNode(flags, async (node) => {
    const entry = await node.store.getCertificate(wanted);
    if (!entry) throw new IcsError('NOT_FOUND', `no certificate with serial ${wanted} was issued by this node`);
    // The index keeps the DER whole; its digest is checked before it is shown as the certificate.
    if (createHash('sha256').update(entry.der).digest('hex') !== entry.sha256) throw new IcsError('INTERNAL', `certificate ${wanted}: the stored DER does not match its SHA-256`);
    const shown = { ...certificateSummary(entry, new Date()), pem: certificatePemOf(entry.der) };
    print(flags, shown, () =>
      [
        `certificate ${shown.serial} (${shown.purpose}, ${shown.state})`,
        `  record: ${shown.record}`,
        `  valid: ${shown.notBefore.toISOString()} to ${shown.notAfter.toISOString()}`,
        `  issued: ${shown.issuedAt.toISOString()}`,
        ...(shown.revoked ? [`  revoked: ${shown.revoked.at.toISOString()} (${shown.revoked.reason})`] : []),
        `  SHA-256: ${shown.sha256}`,
        `  issuing CA (SHA-256): ${shown.issuer}`,
        shown.pem.trimEnd(),
      ].join('\n'),
    );
  });
}

/** Who runs the command, for the approval's record; a user with no name (a container's bare uid) is left unnamed. */
function operatorName(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

/** Enrolments waiting for approval (enrol.approval: manual): read from files, so it works while the node runs. */
export async function certPending(flags: GlobalOptions & { data: string }): Promise<void> {
  const { nodeApprovals } = await import('../node/ca.ts');
  const waiting = await nodeApprovals(new DataDir(flags.data)).pending();
  print(flags, waiting, () =>
    waiting.length === 0
      ? 'no enrolment waits for approval'
      : waiting.map((p) => `${p.recordId}  ${p.urn}  since ${p.firstRequested} (${p.requests} request${p.requests === 1 ? '' : 's'}, last ${p.lastRequested}${p.origin ? ` from ${p.origin}` : ''})`).join('\n'),
  );
}

/** Approves a waiting enrolment: the device's next request is issued. Works while the node runs. */
export async function certApprove(ref: string, flags: GlobalOptions & { data: string }): Promise<void> {
  const { nodeApprovals } = await import('../node/ca.ts');
  const approval = await nodeApprovals(new DataDir(flags.data)).approve(ref.trim(), new Date(), operatorName());
  print(flags, approval, () => `approved: ${approval.urn} (record ${approval.recordId}); its next enrolment request is issued`);
}

export type CertRevokeFlags = GlobalOptions & { data: string; reason: string };

/** How long `ics cert revoke` waits for the running node to apply the request. */
const REVOKE_WAIT_MS = 30_000;

/**
 * Revokes a certificate: at once in the data directory when no node holds it, else through
 * a request file the running node applies (enrol/revocation-requests.ts). Final either way.
 */
export async function certRevoke(serial: string, flags: CertRevokeFlags): Promise<void> {
  const { answerOf, applyRevocation, checkReason } = await import('../enrol/index.ts');
  const { nodeRevocationRequests } = await import('../node/ca.ts');
  const requestedBy = operatorName();
  const request = { serial: normaliseSerial(serial), reason: checkReason(flags.reason), requestedAt: new Date().toISOString(), ...(requestedBy && { requestedBy }) };
  let answer: RevocationAnswer | undefined;
  try {
    answer = answerOf(await withNode(flags, (node) => applyRevocation(node.store, request, new Date())));
  } catch (error) {
    if (!(isIcsError(error, 'UNAVAILABLE') && (error.details as { locked?: boolean } | undefined)?.locked)) throw error;
    // The node runs: it takes the request from ca/revocations/ and answers in done/.
    const requests = nodeRevocationRequests(new DataDir(flags.data));
    await requests.submit(request);
    for (const started = Date.now(); !answer; ) {
      if (Date.now() - started > REVOKE_WAIT_MS) {
        throw new IcsError('UNAVAILABLE', `the running node did not take the revocation within ${REVOKE_WAIT_MS / 1000} s (only a node whose policy has an enrol section applies them); the request stays in ca/revocations/ and is applied when it does`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await requests.answer(request.serial);
    }
  }
  if (answer.outcome === 'not-found') throw new IcsError('NOT_FOUND', `no certificate with serial ${request.serial} was issued by this node`);
  const shown = answer;
  print(flags, shown, () =>
    shown.outcome === 'revoked'
      ? `revoked: ${shown.serial} (${shown.revoked?.reason}) on ${shown.revoked?.at}; record ${shown.recordId}`
      : `already revoked: ${shown.serial} (${shown.revoked?.reason}) on ${shown.revoked?.at}: the first revocation stands`,
  );
}
