// Revocation on a node whose CA issues operational certificates (a CA and a policy with an
// enrol section): the watcher that revokes a device's certificates when its record stops
// entitling it to them (enrol/revocation.ts), the CRL publisher that lists them — served
// at /pki/crl and written to ca/crl.pem for a broker on the same host (mosquitto's crlfile) —
// and the OCSP responder (/pki/ocsp).
// With a `broker` section (ics broker init), each new list is followed by a signal to the
// broker and the end of the revoked devices' live sessions (broker/link.ts).
// Both start before any listener, so that nothing is served before the first list exists.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { Counter } from 'prom-client';
import { BrokerLink, DynsecControl } from '../broker/index.ts';
import { IcsError } from '../errors.ts';
import type { AdminCertificateAuthority } from '../admin/index.ts';
import { applyRevocation, checkReason, CrlPublisher, crlPem, MANUAL_REASONS, normaliseSerial, OcspResponder, RevocationWatcher } from '../enrol/index.ts';
import type { CertificateEntry } from '../store/index.ts';
import { CA_DIR, nodeApprovals, nodeAuthority, nodeRevocationRequests, unlockNodeAuthority } from './ca.ts';
import type { NodeMetrics } from './metrics.ts';
import type { IcsNode } from './node.ts';

/** Where the current CRL is written, PEM, relative to the data directory. */
export const CRL_FILE = `${CA_DIR}/crl.pem`;
/** nextUpdate when the policy loses its enrol section while the node runs (the schema's default). */
const DEFAULT_CRL_VALIDITY_SECONDS = 7 * 86_400;
/** How often every valid certificate is checked again: verdicts also change with time (a countersignature expires). */
export const SWEEP_INTERVAL_MS = 60 * 60_000;

export interface NodeRevocation {
  readonly crl: CrlPublisher;
  readonly ocsp: OcspResponder;
  readonly watcher: RevocationWatcher;
  /** For revocations made elsewhere (a renewal's superseded certificates): counted, and a new CRL. */
  readonly revoked: (entry: CertificateEntry) => void;
  stop(): Promise<void>;
}

function revokedCounter(metrics: NodeMetrics): Counter<'reason'> {
  return new Counter({
    name: 'ics_certificates_revoked_total',
    help: 'Operational certificates this node revoked, by CRL reason (keyCompromise, cessationOfOperation, affiliationChanged, superseded, privilegeWithdrawn, …)',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
}

function brokerCounter(metrics: NodeMetrics): Counter<'action' | 'outcome'> {
  return new Counter({
    name: 'ics_broker_actions_total',
    help: 'What the node did for its MQTT broker after revocations: signal (SIGHUP to reload the CRL), end-session (a revoked device disconnected), by outcome (ok, failed)',
    labelNames: ['action', 'outcome'],
    registers: [metrics.registry],
  });
}

/** The link to the broker of the config's `broker` section; undefined without one. */
async function brokerLink(node: IcsNode, metrics: NodeMetrics): Promise<BrokerLink | undefined> {
  const broker = node.config.broker;
  if (!broker) return undefined;
  const logger = node.logger.child({ component: 'broker' });
  let control: DynsecControl | undefined;
  if (broker.control) {
    const file = node.dataDir.resolve(broker.control.passwordFile);
    const password = (await readFile(file, 'utf8').catch((cause: unknown) => {
      throw new IcsError('CONFIG_INVALID', `broker.control.passwordFile: ${file} cannot be read`, { cause });
    })).trim();
    control = new DynsecControl({ url: broker.control.url, username: broker.control.username, password, clientId: `ics-${node.config.name}`, logger, timeoutMs: broker.control.timeoutMs });
  }
  const counter = brokerCounter(metrics);
  return new BrokerLink({
    ...(broker.pidFile !== undefined && { pidFile: node.dataDir.resolve(broker.pidFile) }),
    reloadDelayMs: broker.reloadDelayMs,
    ...(control && { control }),
    logger,
    count: (action, outcome) => counter.inc({ action, outcome }),
  });
}

/** Undefined on a node whose CA issues nothing (none, pending, or no enrol section). */
export async function startRevocation(node: IcsNode, metrics: NodeMetrics): Promise<NodeRevocation | undefined> {
  const role = await nodeAuthority(node.dataDir).role();
  if ((role !== 'root' && role !== 'issuing') || !node.policy.policy.enrol) return undefined;
  const authority = await unlockNodeAuthority(node.dataDir, node.config);
  const logger = node.logger.child({ component: 'revocation' });
  const file = node.dataDir.resolve(CRL_FILE);
  const broker = await brokerLink(node, metrics);
  const crl = new CrlPublisher({
    signer: authority,
    index: node.store,
    validitySeconds: () => node.policy.policy.enrol?.revocation.crlValiditySeconds ?? DEFAULT_CRL_VALIDITY_SECONDS,
    logger,
    onPublished: (der, thisUpdate) => {
      // Whole or not at all: a reader never sees half a list.
      const written = writeFile(`${file}.tmp`, crlPem(der), { mode: 0o644 }).then(() => rename(`${file}.tmp`, file));
      written.then(
        () => broker?.crlWritten(thisUpdate),
        (error: unknown) => logger.error({ err: error, file }, 'the CRL could not be written to its file (it is still served over HTTP)'),
      );
    },
  });
  await crl.start();
  const ocsp = new OcspResponder(authority, node.store, logger);
  // Issued now, so that a CA that cannot issue it fails the start, not the first request.
  await ocsp.responderCertificate();
  const counter = revokedCounter(metrics);
  const revoked = (entry: CertificateEntry) => {
    counter.inc({ reason: entry.revoked?.reason ?? 'unspecified' });
    broker?.revoked(entry); // before the CRL hears of it: the list it makes next is the one whose signal ends the session
    crl.revoked(entry);
  };
  const watcher = new RevocationWatcher({ store: node.store, policy: () => node.policy, logger, onRevoked: revoked });
  watcher.start();
  // A new policy (reload, issuer refresh) or the passing of time can end trust with no record changing.
  let generation = node.policy.generation;
  const timer = setInterval(() => {
    generation = node.policy.generation;
    watcher.sweep();
  }, SWEEP_INTERVAL_MS);
  const generationCheck = setInterval(() => {
    if (node.policy.generation === generation) return;
    generation = node.policy.generation;
    watcher.sweep();
  }, 1000);
  // Revocations by hand (`ics cert revoke` while the node runs), applied within a second.
  const requests = nodeRevocationRequests(node.dataDir);
  let processing = false;
  const requestCheck = setInterval(() => {
    if (processing) return;
    processing = true;
    requests
      .process(node.store, new Date())
      .then((outcomes) => {
        for (const o of outcomes) {
          if (o.outcome !== 'revoked') logger.info({ outcome: o.outcome, serial: o.outcome === 'not-found' ? o.serial : o.entry.serial }, 'revocation by hand not applied');
          else {
            logger.warn({ serial: o.entry.serial, record: o.entry.recordId, reason: o.entry.revoked?.reason }, 'operational certificate revoked by hand (ics cert revoke)');
            revoked(o.entry);
          }
        }
      })
      .catch((error: unknown) => logger.error({ err: error }, 'revocations by hand could not be read'))
      .finally(() => {
        processing = false;
      });
  }, 1000);
  timer.unref();
  generationCheck.unref();
  requestCheck.unref();
  return {
    crl,
    ocsp,
    watcher,
    revoked,
    async stop() {
      clearInterval(timer);
      clearInterval(generationCheck);
      clearInterval(requestCheck);
      await watcher.stop();
      await crl.stop();
      await broker?.close();
    },
  };
}

/**
 * The CA as the admin API and the console use it: a revocation by hand applied at once (and
 * followed, as every revocation, by the CRL, OCSP and the broker), the approval queue.
 */
export function adminAuthority(node: IcsNode, revocation: NodeRevocation): AdminCertificateAuthority {
  const approvals = nodeApprovals(node.dataDir);
  const logger = node.logger.child({ component: 'ca' });
  return {
    reasons: MANUAL_REASONS,
    async revoke(serial, reason, by) {
      const request = { serial: normaliseSerial(serial), reason: checkReason(reason), requestedAt: new Date().toISOString(), requestedBy: by };
      const outcome = await applyRevocation(node.store, request, new Date());
      if (outcome.outcome === 'revoked') {
        logger.warn({ serial: outcome.entry.serial, record: outcome.entry.recordId, reason: request.reason, user: by }, 'operational certificate revoked by hand (admin API)');
        revocation.revoked(outcome.entry);
      }
      return outcome;
    },
    pending: () => approvals.pending(),
    async approve(recordId, by) {
      const approval = await approvals.approve(recordId, new Date(), by);
      logger.info({ record: approval.recordId, urn: approval.urn, user: by }, 'enrolment approved (admin API)');
      return approval;
    },
  };
}
