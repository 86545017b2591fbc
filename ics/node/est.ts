// The node's EST listener (DESIGN §7, RFC 7030): its own mutual-TLS HTTP host serving the EST
// plugin, over the node's CA (unlocked with the node's passphrase) and the policy's enrol
// section. A node configured with listen.est but lacking either refuses to start, saying
// which. Its TLS certificate comes from config (est.tls) or is issued at start by the node's
// CA for the bound host and localhost, its key kept in memory only.
import { readFile } from 'node:fs/promises';
import type { Authenticator } from '../auth/index.ts';
import { Enrolment, issueServerCertificate, loadBirthCAs, type UnlockedAuthority } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { estPlugin, MAX_EST_BODY_BYTES } from '../est/index.ts';
import { createHttpServer, type HttpServer, type HttpTls, httpInit } from '../http/index.ts';
import { parseHostPort } from '../net/address.ts';
import type { PolicyVerdictCache } from '../policy/index.ts';
import type { CertificateEntry } from '../store/index.ts';
import { caPassphrase, nodeApprovals, nodeAuthority, nodeCaGenerations, pkcs11Settings } from './ca.ts';
import type { NodeMetrics } from './metrics.ts';
import type { IcsNode } from './node.ts';

export interface EstShared {
  readonly metrics: NodeMetrics;
  readonly verdicts: PolicyVerdictCache;
  readonly authenticator?: Authenticator;
  readonly nodeInfo: { readonly name: string; readonly role: string; readonly version: string };
  /** Told of certificates a renewal revoked (superseded). */
  readonly onRevoked?: (entry: CertificateEntry) => void;
  /** Where relying parties ask for a certificate's status (read at each issuance). */
  readonly statusUrls?: () => { readonly crl: string; readonly ocsp: string } | undefined;
}

/** CONFIG_INVALID saying what EST lacks on this node. */
async function checkPrerequisites(node: IcsNode): Promise<void> {
  const problems: string[] = [];
  const role = await nodeAuthority(node.dataDir).role();
  if (role === undefined) problems.push(`node ${node.config.name} has no certificate authority (ics ca init)`);
  if (role === 'pending') problems.push(`the certificate authority of node ${node.config.name} waits for its certificate (ics ca install)`);
  const policy = node.policy.policy;
  if (!policy.enrol) problems.push(`the policy (${policy.source}) has no enrol section (schemas/policy.schema.json: birthCAs, requireRoles, profile)`);
  if (problems.length > 0) {
    throw new IcsError('CONFIG_INVALID', `listen.est is set, but ${problems.join('; and ')}: EST needs a CA and an enrol section, or remove listen.est`, { details: { errors: problems } });
  }
}

async function tlsOf(node: IcsNode, authority: UnlockedAuthority, host: string): Promise<HttpTls> {
  const files = node.config.est.tls;
  if (files) {
    const read = (file: string) =>
      readFile(node.dataDir.resolve(file)).catch((cause: unknown) => {
        throw new IcsError('CONFIG_INVALID', `est.tls: cannot read ${node.dataDir.resolve(file)}`, { cause });
      });
    return { cert: await read(files.cert), key: await read(files.key), requestCert: true };
  }
  const issued = await issueServerCertificate(authority, [host]);
  node.logger.info({ host, notAfter: issued.notAfter }, 'EST TLS certificate issued by the node CA (restart to renew)');
  return { cert: issued.cert, key: issued.key, requestCert: true };
}

/**
 * The EST listener on `listen` (HOST:PORT), not started. Everything it needs is checked and
 * unlocked here, so that a node that cannot serve EST fails before any listener starts.
 */
export async function prepareEst(node: IcsNode, listen: string, shared: EstShared): Promise<HttpServer> {
  const address = parseHostPort(listen);
  await checkPrerequisites(node);
  const birthCAs = await loadBirthCAs(node.policy.policy);
  if (birthCAs.length === 0) node.logger.warn('the policy’s enrol section names no birth CA: no device can enrol over EST until one is added');
  const authority = await nodeAuthority(node.dataDir).unlock(await caPassphrase(node.dataDir, node.config), pkcs11Settings(node.dataDir, node.config));
  const tls = await tlsOf(node, authority, address.host);
  // After a rollover: the previous CA's certificates renew onto this one.
  const previousCa = nodeCaGenerations(node.dataDir).previous;
  const previousRole = await previousCa.role();
  const previous = previousRole === 'root' || previousRole === 'issuing' ? await previousCa.published() : undefined;
  const policy = () => node.policy;
  const enrolment = new Enrolment({
    store: node.store,
    policy,
    authority,
    submitter: node.ingest,
    issuerKey: () => node.issuerKey(),
    logger: node.logger.child({ component: 'enrol' }),
    verdicts: shared.verdicts,
    approvals: nodeApprovals(node.dataDir),
    source: 'est',
    ...(previous && { previous }),
    ...(shared.onRevoked && { onRevoked: shared.onRevoked }),
    ...(shared.statusUrls && { statusUrls: shared.statusUrls }),
  });
  const { requestsPerMinute, maxConnections, maxConnectionsPerAddress, requestTimeoutSeconds } = node.config.est;
  return createHttpServer(
    httpInit({
      ...address,
      tls,
      maxBodyBytes: MAX_EST_BODY_BYTES,
      requestTimeoutSeconds,
      maxConnections,
      maxConnectionsPerAddress,
      requestsPerMinute,
      exempt: node.config.clientLimits.exempt,
      metrics: node.config.hkp.metrics,
      listener: 'est',
      nodeInfo: shared.nodeInfo,
    }),
    {
      store: node.store,
      policy,
      ingest: node.ingest,
      logger: node.logger.child({ component: 'est' }),
      ...(shared.authenticator && { authenticator: shared.authenticator }),
      metrics: shared.metrics,
    },
    [estPlugin(enrolment)],
  );
}
