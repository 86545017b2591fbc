// LDAPv3 protocol constants and response encoding (RFC 4511 §4). Responses are built here
// with ber.ts rather than with ldapjs's message classes: they are few, fixed in shape and on
// the hot path of every search.
import { boolean, constructed, integer, octets, Tag, tlv } from './ber.ts';

/** Result codes (RFC 4511 §4.1.9, Appendix A). */
export const ResultCode = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  compareFalse: 5,
  compareTrue: 6,
  authMethodNotSupported: 7,
  strongerAuthRequired: 8,
  adminLimitExceeded: 11,
  unavailableCriticalExtension: 12,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  undefinedAttributeType: 17,
  inappropriateMatching: 18,
  constraintViolation: 19,
  invalidAttributeSyntax: 21,
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  namingViolation: 64,
  objectClassViolation: 65,
  notAllowedOnNonLeaf: 66,
  notAllowedOnRDN: 67,
  entryAlreadyExists: 68,
  other: 80,
} as const;

/** Protocol operation tags ([APPLICATION n], RFC 4511 §4.2–4.14). */
export const Op = {
  bindRequest: 0x60,
  bindResponse: 0x61,
  unbindRequest: 0x42,
  searchRequest: 0x63,
  searchResultEntry: 0x64,
  searchResultDone: 0x65,
  modifyRequest: 0x66,
  modifyResponse: 0x67,
  addRequest: 0x68,
  addResponse: 0x69,
  delRequest: 0x4a,
  delResponse: 0x6b,
  modDnRequest: 0x6c,
  modDnResponse: 0x6d,
  compareRequest: 0x6e,
  compareResponse: 0x6f,
  abandonRequest: 0x50,
  extendedRequest: 0x77,
  extendedResponse: 0x78,
} as const;

/** The response operation for each request that has one. */
export const RESPONSE_OF: ReadonlyMap<number, number> = new Map([
  [Op.bindRequest, Op.bindResponse],
  [Op.searchRequest, Op.searchResultDone],
  [Op.modifyRequest, Op.modifyResponse],
  [Op.addRequest, Op.addResponse],
  [Op.delRequest, Op.delResponse],
  [Op.modDnRequest, Op.modDnResponse],
  [Op.compareRequest, Op.compareResponse],
  [Op.extendedRequest, Op.extendedResponse],
]);

export const OID = {
  startTls: '1.3.6.1.4.1.1466.20037',
  whoAmI: '1.3.6.1.4.1.4203.1.11.3',
  noticeOfDisconnection: '1.3.6.1.4.1.1466.20036',
  pagedResults: '1.2.840.113556.1.4.319',
} as const;

export interface Control {
  readonly type: string;
  readonly criticality?: boolean;
  readonly value?: Uint8Array;
}

export function encodeControls(controls: readonly Control[]): Buffer {
  return constructed(
    0xa0,
    controls.map((c) =>
      constructed(Tag.sequence, [octets(c.type), ...(c.criticality ? [boolean(true)] : []), ...(c.value ? [octets(c.value)] : [])]),
    ),
  );
}

/** Wraps a protocol operation in an LDAPMessage (RFC 4511 §4.1.1). */
export function message(messageId: number, protocolOp: Uint8Array, controls: readonly Control[] = []): Buffer {
  const parts: Uint8Array[] = [integer(messageId), protocolOp];
  if (controls.length > 0) parts.push(encodeControls(controls));
  return constructed(Tag.sequence, parts);
}

export interface Result {
  readonly code: number;
  readonly matchedDn?: string;
  readonly message?: string;
}

/** LDAPResult components, followed by the operation's own extra elements. */
export function resultOp(op: number, result: Result, extra: readonly Uint8Array[] = []): Buffer {
  return constructed(op, [
    integer(result.code, Tag.enumerated),
    octets(result.matchedDn ?? ''),
    octets(truncate(result.message ?? '')),
    ...extra,
  ]);
}

/** Diagnostic messages are for people; a long one only costs bandwidth. */
const MAX_DIAGNOSTIC_CHARS = 512;

function truncate(text: string): string {
  return text.length > MAX_DIAGNOSTIC_CHARS ? `${text.slice(0, MAX_DIAGNOSTIC_CHARS - 1)}…` : text;
}

export function resultMessage(messageId: number, op: number, result: Result, controls: readonly Control[] = []): Buffer {
  return message(messageId, resultOp(op, result), controls);
}

export function extendedResponse(messageId: number, result: Result, name?: string, value?: Uint8Array): Buffer {
  const extra: Uint8Array[] = [];
  if (name !== undefined) extra.push(octets(name, 0x8a));
  if (value !== undefined) extra.push(tlv(0x8b, value));
  return message(messageId, resultOp(Op.extendedResponse, result, extra));
}

/** The unsolicited Notice of Disconnection (RFC 4511 §4.4.1), sent before the server closes. */
export function noticeOfDisconnection(code: number, text: string): Buffer {
  return extendedResponse(0, { code, message: text }, OID.noticeOfDisconnection);
}

/** The paged-results response control (RFC 2696 §2): size estimate (0: unknown) and cookie. */
export function pagedResultsControl(cookie: Uint8Array): Control {
  return { type: OID.pagedResults, value: constructed(Tag.sequence, [integer(0), octets(cookie)]) };
}

/**
 * An LDAPMessage around a pre-encoded protocol op: only the message id is new, so entries are
 * encoded once and sent to every client that asks for them.
 */
export function envelope(messageId: number, encodedOp: Uint8Array): Buffer {
  return constructed(Tag.sequence, [integer(messageId), encodedOp]);
}
