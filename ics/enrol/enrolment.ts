// The decision "may this device have a certificate now?" and the issuance (DESIGN §7), for
// the EST front end (RFC 7030 §4.2) and any other that comes: one small interface, every
// protocol detail left to the front end. A certificate is issued only when all holds:
//   - the client authenticated with a certificate: for an enrolment, a birth certificate
//     chaining to a birth CA of the policy (client-path.ts); for a re-enrolment, a current
//     operational certificate of this CA, in the certificate index and not revoked;
//   - the certificate's key is the primary key of a device record held here (for a birth
//     certificate, found by the URN it names; for an operational one, by the index);
//   - the record's verdict under the current policy is trusted, with the roles `enrol.requireRoles` names;
//   - the request proves possession of its key, of a type the profile allows, and names no other device.
// Refusals are IcsErrors: UNAUTHENTICATED (who is asking is not established), POLICY_REJECTED
// (the policy says no), BAD_REQUEST / LIMIT_EXCEEDED (the request). Nothing is issued then.
import type { Logger } from 'pino';
import { IcsError } from '../errors.ts';
import type { EnrolPolicy, Policy, PolicyEngine, PolicyVerdict, PolicyVerdictCache } from '../policy/index.ts';
import type { Issuer } from '../record/index.ts';
import type { CertificateEntry, CertificateIndex, ChangeSource, RecordIndexes, RecordReader } from '../store/index.ts';
import type { ApprovalQueue } from './approvals.ts';
import { loadBirthCAs } from './birth-cas.ts';
import { deviceSerial } from './birth.ts';
import type { UnlockedAuthority } from './ca.ts';
import { fingerprintOf, type IssuedCertificate } from './certificate.ts';
import { certsOnly } from './certs-only.ts';
import { sameName, signedBy } from './chain.ts';
import { pathToAnchor } from './client-path.ts';
import { deviceUrnsOf } from './device-side.ts';
import { type DeviceRecord, deviceRecordById, findDeviceRecord } from './device-record.ts';
import { entitlementRefusals } from './entitlement.ts';
import { type StatementOutcome, type StatementSubmitter, writeIssuanceStatement } from './issuance-statement.ts';
import { MAX_CHAIN_LENGTH, MAX_COMMON_NAME } from './limits.ts';
import { nameAttributes } from './names.ts';
import { readCertificateRequest } from './parse.ts';
import { reviewRequest } from './request-review.ts';
import { revokeAll } from './revocation.ts';
import { x509 } from './x509.ts';

export interface EnrolmentComponents {
  /** Device records (found by URN, or by id) and the certificate index every issuance goes into. */
  readonly store: RecordReader & RecordIndexes & CertificateIndex;
  /** The current policy engine: read on every request, so that a reload applies at once. */
  readonly policy: () => PolicyEngine;
  /** The node's CA, unlocked. */
  readonly authority: UnlockedAuthority;
  /** The one write path, for the issuance statement. */
  readonly submitter: StatementSubmitter;
  /** The node's issuer key, which signs the issuance statement. */
  readonly issuerKey: () => Promise<Issuer>;
  readonly logger: Logger;
  /** Shared with the front ends that answer verdicts; absent: evaluated each time. */
  readonly verdicts?: PolicyVerdictCache;
  /** The event log's source of the issuance statement. Default `api` (an HTTP front end). */
  readonly source?: ChangeSource;
  /** Where enrolments wait for an operator when the policy asks for manual approval; without it, such a policy issues nothing. */
  readonly approvals?: ApprovalQueue;
  /**
   * The CA before the last rollover (certificate and chain, no key): its chain is served in
   * cacerts beside the current one, and its operational certificates renew onto the current CA.
   */
  readonly previous?: { readonly certificate: x509.X509Certificate; readonly chain: readonly x509.X509Certificate[] };
  /** Told of each certificate a renewal revoked (enrol.revocation.revokeOnRenewal: superseded). */
  readonly onRevoked?: (entry: CertificateEntry) => void;
  /** Where relying parties ask for a certificate's status, written into each one; read at each issuance (absent: none written). */
  readonly statusUrls?: () => { readonly crl: string; readonly ocsp: string } | undefined;
}

export interface EnrolmentRequest {
  /** The TLS client's certificates as DER: the one it authenticated with first, then the others it sent. */
  readonly clientCertificates: readonly Uint8Array[];
  /** The PKCS#10 request: DER (or PEM). */
  readonly csr: Uint8Array;
  /** Only a device whose record is in this policy domain (an EST label) may enrol here. */
  readonly domain?: string;
  /** Who sent it (client address), for logs and the event log. */
  readonly origin?: string;
  readonly now?: Date;
}

/** How long a device waiting for approval is asked to wait before it asks again. */
export const APPROVAL_RETRY_SECONDS = 60;

/** A request that meets every condition but waits for an operator's approval (enrol.approval: manual). */
export interface EnrolmentPending {
  readonly pending: true;
  readonly recordId: string;
  readonly urn: string;
  readonly retryAfterSeconds: number;
}

export interface Enrolled {
  readonly pending?: undefined;
  readonly certificate: IssuedCertificate;
  /** A certs-only message (RFC 5272 §4.1) holding the new certificate: what EST answers. */
  readonly certsOnly: Uint8Array;
  readonly recordId: string;
  readonly urn: string;
  /** What the request asked for that the CA did not grant (names, not values). */
  readonly ignored: readonly string[];
  /** Whether the issuance statement reached the device record (the certificate is issued either way). */
  readonly statement: StatementOutcome;
}

const unauthenticated = (message: string) => new IcsError('UNAUTHENTICATED', message);

function enrolSection(engine: PolicyEngine, approvals: ApprovalQueue | undefined): EnrolPolicy {
  const enrol = engine.policy.enrol;
  if (!enrol) throw new IcsError('POLICY_REJECTED', 'this node’s policy has no enrol section: it issues no certificates');
  // Issuing at once what the operator wants approved first would defeat the setting: refuse instead.
  if (enrol.approval === 'manual' && !approvals) throw new IcsError('NOT_IMPLEMENTED', 'the policy asks for manual approval of enrolments, which this node is not set up for: nothing is issued');
  return enrol;
}

function clientCertificates(ders: readonly Uint8Array[]): [x509.X509Certificate, ...x509.X509Certificate[]] {
  if (ders.length === 0) throw unauthenticated('no TLS client certificate: authenticate with the device’s certificate and key (curl --cert FILE --key FILE)');
  const parsed = ders.slice(0, MAX_CHAIN_LENGTH).map((der) => {
    try {
      return new x509.X509Certificate(new Uint8Array(der));
    } catch (cause) {
      throw new IcsError('UNAUTHENTICATED', 'a TLS client certificate cannot be read as X.509', { cause });
    }
  });
  return parsed as [x509.X509Certificate, ...x509.X509Certificate[]];
}

/** The device URN a client certificate names (its SAN URI, as birth and operational certificates carry it). */
function deviceUrnOf(certificate: x509.X509Certificate): string {
  const urns = deviceUrnsOf(certificate);
  if (urns.length === 0) throw new IcsError('POLICY_REJECTED', `the client certificate (${certificate.subject}) names no device URN in its subjectAltName`);
  if (urns.length > 1) throw new IcsError('POLICY_REJECTED', `the client certificate (${certificate.subject}) names ${urns.length} device URNs: one is expected`);
  return urns[0] as string;
}

/** Throws POLICY_REJECTED, with every reason, unless the verdict allows a certificate. */
function authorise(verdict: PolicyVerdict, enrol: EnrolPolicy, urn: string, domain: string | undefined): void {
  const reasons = entitlementRefusals(verdict, enrol, domain);
  if (reasons.length === 0) return;
  throw new IcsError('POLICY_REJECTED', `${urn} may not have a certificate: ${reasons.join('; ')}`, { details: { reasons } });
}

export class Enrolment {
  readonly #c: EnrolmentComponents;
  readonly #birthCAs = new WeakMap<Policy, Promise<x509.X509Certificate[]>>();
  readonly #issuer: string;
  #caCertificates: Uint8Array | undefined;

  constructor(components: EnrolmentComponents) {
    this.#c = components;
    this.#issuer = fingerprintOf(components.authority.certificate.rawData);
  }

  /**
   * The CA's chain (this CA up to its root) as a certs-only message: EST's cacerts; during a
   * rollover, the previous CA's chain follows (each certificate once).
   */
  caCertificates(): Uint8Array {
    if (!this.#caCertificates) {
      const all = [...this.#c.authority.chain, ...(this.#c.previous?.chain ?? [])];
      const seen = new Set<string>();
      this.#caCertificates = certsOnly(all.filter((c) => !seen.has(fingerprintOf(c.rawData)) && seen.add(fingerprintOf(c.rawData))));
    }
    return this.#caCertificates;
  }

  /** Whether `name` is a domain of the current policy (what an EST label may name). */
  hasDomain(name: string): boolean {
    return this.#c.policy().domain(name) !== undefined;
  }

  /** simpleenroll (RFC 7030 §4.2.1): a device authenticated by its birth certificate. */
  async enrol(request: EnrolmentRequest): Promise<Enrolled | EnrolmentPending> {
    const now = request.now ?? new Date();
    const engine = this.#c.policy();
    const enrol = enrolSection(engine, this.#c.approvals);
    if (request.clientCertificates.length === 0 && enrol.bootstrap === 'record-key') return this.#bootstrap(engine, enrol, request, now);
    const [leaf, ...sent] = clientCertificates(request.clientCertificates);
    await pathToAnchor(leaf, sent, await this.#birthCAsOf(engine.policy), now);
    const urn = deviceUrnOf(leaf);
    const device = await findDeviceRecord(this.#c.store, urn, new Uint8Array(leaf.publicKey.rawData));
    if (!device) throw new IcsError('POLICY_REJECTED', `this node holds no device record ${urn} whose key is the birth certificate's key`);
    return this.#issue(engine, enrol, device, urn, request, now, 'simpleenroll');
  }

  /**
   * simplereenroll (RFC 7030 §4.2.2): a device authenticated by a current operational
   * certificate of this CA. A device whose certificate expired enrols again with its birth
   * certificate (`enrol`), which needs nobody's help either.
   */
  async reenrol(request: EnrolmentRequest): Promise<Enrolled> {
    const now = request.now ?? new Date();
    const engine = this.#c.policy();
    const enrol = enrolSection(engine, this.#c.approvals);
    const [leaf] = clientCertificates(request.clientCertificates);
    // The current CA's, or (after a rollover) the previous one's: devices renew onto the current CA.
    const cas = [this.#c.authority.certificate, ...(this.#c.previous ? [this.#c.previous.certificate] : [])];
    let signer: x509.X509Certificate | undefined;
    for (const ca of cas) {
      if (sameName(leaf.issuerName, ca.subjectName) && (await signedBy(leaf, ca))) {
        signer = ca;
        break;
      }
    }
    if (!signer) throw unauthenticated('simplereenroll takes an operational certificate this node issued; with a birth certificate, use simpleenroll');
    const entry = await this.#c.store.getCertificate(leaf.serialNumber.toLowerCase());
    if (!entry || entry.purpose !== 'operational' || entry.sha256 !== fingerprintOf(leaf.rawData) || entry.issuer !== fingerprintOf(signer.rawData)) {
      throw unauthenticated(`certificate serial ${leaf.serialNumber} is not an operational certificate of this node`);
    }
    if (entry.revoked) throw unauthenticated(`the operational certificate was revoked (${entry.revoked.reason}) on ${entry.revoked.at.toISOString()}`);
    if (now.getTime() > leaf.notAfter.getTime()) {
      throw unauthenticated(`the operational certificate expired on ${leaf.notAfter.toISOString()}: enrol again with the birth certificate (simpleenroll)`);
    }
    if (now.getTime() < leaf.notBefore.getTime()) throw unauthenticated(`the operational certificate is not valid before ${leaf.notBefore.toISOString()}`);
    const urn = deviceUrnOf(leaf);
    const device = await deviceRecordById(this.#c.store, entry.recordId);
    if (!device || !device.record.userIds.some((u) => u.userId === urn)) {
      throw new IcsError('POLICY_REJECTED', `this node no longer holds the device record ${entry.recordId} of ${urn}`);
    }
    return this.#issue(engine, enrol, device, urn, request, now, 'simplereenroll') as Promise<Enrolled>;
  }

  /**
   * `bootstrap: record-key`: a device without a birth certificate (and so without a TLS client
   * certificate) enrols with a request whose key is its record's primary key, naming its URN.
   * The request's signature proves possession of that key; the record's verdict does the rest.
   */
  async #bootstrap(engine: PolicyEngine, enrol: EnrolPolicy, request: EnrolmentRequest, now: Date): Promise<Enrolled | EnrolmentPending> {
    const csr = readCertificateRequest(request.csr);
    const urns = deviceUrnsOf(csr);
    const named = urns.length > 0 ? urns : nameAttributes(csr.subjectName).filter(([type]) => type === 'CN').map(([, value]) => value);
    if (named.length !== 1) throw unauthenticated('no TLS client certificate, and the request names no one device URN (subjectAltName URI or subject CN) to bootstrap with its record key');
    const urn = named[0] as string;
    const device = await findDeviceRecord(this.#c.store, urn, new Uint8Array(csr.publicKey.rawData));
    if (!device) throw new IcsError('POLICY_REJECTED', `this node holds no device record ${urn} whose key is the request's key (bootstrap: record-key)`);
    return this.#issue(engine, enrol, device, urn, request, now, 'simpleenroll');
  }

  async #birthCAsOf(policy: Policy): Promise<x509.X509Certificate[]> {
    let found = this.#birthCAs.get(policy);
    if (!found) {
      found = loadBirthCAs(policy);
      // A failed read is not kept: the next request reads the files again.
      found.catch(() => this.#birthCAs.delete(policy));
      this.#birthCAs.set(policy, found);
    }
    return found;
  }

  #verdict(engine: PolicyEngine, device: DeviceRecord, now: Date): PolicyVerdict {
    const cache = this.#c.verdicts;
    if (!cache) return engine.verdict(device.record, now);
    return (cache.get(device.stored, engine, now) ?? cache.evaluate(device.stored, device.record, engine, now)).verdict;
  }

  async #issue(
    engine: PolicyEngine,
    enrol: EnrolPolicy,
    device: DeviceRecord,
    urn: string,
    request: EnrolmentRequest,
    now: Date,
    operation: 'simpleenroll' | 'simplereenroll',
  ): Promise<Enrolled | EnrolmentPending> {
    authorise(this.#verdict(engine, device, now), enrol, urn, request.domain);
    const serial = deviceSerial(urn);
    const reviewed = await reviewRequest(request.csr, { urn, serial }, enrol.profile.keyTypes);
    // Only a request that would be issued now waits for the operator: the approval is of a
    // trusted device with a good request, and a renewal of an approved device needs none.
    const approvals = enrol.approval === 'manual' && operation === 'simpleenroll' ? this.#c.approvals : undefined;
    if (approvals) {
      const waiting = { recordId: device.stored.id, urn, ...(request.origin !== undefined && { origin: request.origin }) };
      if (!(await approvals.approved(waiting, now))) {
        this.#c.logger.info({ operation, urn, record: device.stored.id, origin: request.origin }, 'enrolment waits for approval');
        return { pending: true, recordId: device.stored.id, urn, retryAfterSeconds: APPROVAL_RETRY_SECONDS };
      }
    }
    const authority = this.#c.authority;
    const statusUrls = this.#c.statusUrls?.();
    // Never past the CA's own end.
    const notAfter = new Date(Math.min(now.getTime() + enrol.profile.lifetimeSeconds * 1000, authority.certificate.notAfter.getTime()));
    const certificate = await authority.issue({
      subject: [['serialNumber', serial], ...(urn.length <= MAX_COMMON_NAME ? [['CN', urn] as const] : [])],
      publicKey: reviewed.spki,
      sanUris: [urn],
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['clientAuth'],
      notAfter,
      now,
      ...(statusUrls && { statusUrls }),
    });
    const entry: CertificateEntry = {
      serial: certificate.serial.toLowerCase(),
      recordId: device.stored.id,
      issuer: this.#issuer,
      purpose: 'operational',
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      sha256: certificate.fingerprint,
      der: certificate.der,
      issuedAt: now,
    };
    // In the index before it is answered: a certificate nobody can look up is never handed out.
    await this.#c.store.addCertificate(entry);
    const logged = { operation, urn, record: device.stored.id, serial: entry.serial, sha256: entry.sha256, notAfter: entry.notAfter, origin: request.origin };
    const statement = await this.#recordIssuance(device, urn, certificate, request.origin, logged);
    await approvals?.consume(device.stored.id);
    if (enrol.revocation.revokeOnRenewal) await this.#supersede(device.stored.id, entry.serial, now);
    this.#c.logger.info({ ...logged, ...(reviewed.ignored.length > 0 && { ignored: reviewed.ignored }) }, 'operational certificate issued');
    return { certificate, certsOnly: certsOnly([certificate.certificate]), recordId: device.stored.id, urn, ignored: reviewed.ignored, statement };
  }

  /** The record's other valid operational certificates, revoked as superseded by `serial`. */
  async #supersede(recordId: string, serial: string, now: Date): Promise<void> {
    const superseded = await revokeAll(this.#c.store, await this.#c.store.certificatesOf(recordId), { at: now, reason: 'superseded' }, serial);
    for (const old of superseded) {
      this.#c.logger.info({ serial: old.serial, record: recordId, by: serial }, 'operational certificate revoked: superseded by a renewal');
      this.#c.onRevoked?.(old);
    }
  }

  /**
   * The issuance statement in the device record. A failure here does not take the
   * certificate back: it is issued and in the index (what OCSP, CRLs and `ics cert` read);
   * the record lacks the statement until the next issuance, and the log says so.
   */
  async #recordIssuance(device: DeviceRecord, urn: string, certificate: IssuedCertificate, origin: string | undefined, logged: object): Promise<StatementOutcome> {
    try {
      const outcome = await writeIssuanceStatement(device.stored, device.record, urn, certificate, {
        engine: this.#c.policy(),
        issuerKey: await this.#c.issuerKey(),
        submitter: this.#c.submitter,
        source: this.#c.source ?? 'api',
        ...(origin !== undefined && { origin }),
      });
      if (!outcome.written) this.#c.logger.warn({ ...logged, reason: outcome.reason }, 'issuance statement not written to the device record (the certificate is issued and indexed)');
      return outcome;
    } catch (error) {
      this.#c.logger.error({ ...logged, err: error }, 'issuance statement could not be written to the device record (the certificate is issued and indexed)');
      return { written: false, reason: 'the record write failed' };
    }
  }
}
