// The answer to a request that cannot be decoded but has a response: a bind that is not a
// simple one, a DN that is not one (invalidDNSyntax), or else protocolError. The session stays
// open; a request without a response (unbind, abandon) that cannot be read ends it.
import { BerError, element } from './ber.ts';
import type { Frame } from './framing.ts';
import { type DecodeError, isDn } from './ldapjs.ts';
import { Op, RESPONSE_OF, type Result, ResultCode } from './protocol.ts';

/** SaslCredentials in a BindRequest's authentication choice: [3]. */
const SASL = 0xa3;

export function undecodableAnswer(message: Buffer, frame: Frame, error: DecodeError): Result {
  if (!RESPONSE_OF.has(frame.op)) throw new BerError(`undecodable message: ${error.message}`);
  const op = element(message, frame.opOffset);
  if (frame.op === Op.bindRequest) {
    const version = element(message, op.start, op.end);
    const name = element(message, version.end, op.end);
    const auth = element(message, name.end, op.end);
    if (auth.tag === SASL) return { code: ResultCode.authMethodNotSupported, message: 'only simple binds are supported' };
    if (!isDn(message.toString('utf8', name.start, name.end))) return { code: ResultCode.invalidDNSyntax, message: 'invalid bind DN' };
  } else if (frame.op !== Op.extendedRequest) {
    // Every other request with a response starts with the DN it is about.
    const dn = frame.op === Op.delRequest ? op : element(message, op.start, op.end);
    const text = message.toString('utf8', dn.start, dn.end);
    if (!isDn(text)) return { code: ResultCode.invalidDNSyntax, message: `invalid DN: ${text.slice(0, 80)}` };
  }
  return { code: ResultCode.protocolError, message: `cannot decode request: ${error.message}` };
}
