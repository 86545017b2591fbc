// What the EST front end needs of the certificate authority (after globalsign/est's small CA
// interface): the CA certificates, the two enrolments, and whether a label names a domain.
// Every RFC 7030 detail (paths, bodies, content types) stays in the front end.
import type { Enrolled, EnrolmentPending, EnrolmentRequest } from '../enrol/index.ts';

export interface EstAuthority {
  /** The CA's chain as a certs-only message (DER). */
  caCertificates(): Uint8Array;
  /** Whether an EST label names a domain of the current policy. */
  hasDomain(label: string): boolean;
  /** simpleenroll: authenticated by a birth certificate; pending while it waits for an operator's approval. */
  enrol(request: EnrolmentRequest): Promise<Enrolled | EnrolmentPending>;
  /** simplereenroll: authenticated by a current operational certificate of this CA. */
  reenrol(request: EnrolmentRequest): Promise<Enrolled>;
}
