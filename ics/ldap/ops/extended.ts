// Extended operations (RFC 4511 §4.12): StartTLS (§4.14, RFC 4513 §3) and Who am I? (RFC 4532);
// any other is answered protocolError.
import { extendedResponse, OID, ResultCode } from '../protocol.ts';
import type { RequestOf } from '../ldapjs.ts';
import type { SessionScope } from '../session-context.ts';

/** Who am I? and the operations not supported (StartTLS is startTls below). */
export function extendedOperation(scope: SessionScope, request: RequestOf<'extended'>): void {
  const id = request.messageId;
  if (request.name === OID.whoAmI) {
    const name = scope.identity.name;
    const authz = name === undefined ? '' : `dn:${scope.ctx.directory.dit.userDn(name)}`;
    scope.connection.write(extendedResponse(id, { code: ResultCode.success }, undefined, Buffer.from(authz)));
    return;
  }
  scope.connection.write(extendedResponse(id, { code: ResultCode.protocolError, message: `extended operation ${request.name} is not supported` }));
}

/**
 * StartTLS: answer, then run the TLS handshake on the same connection. Runs with no other
 * operation in progress; `requestsWaiting` tells whether the client sent more after it, which
 * it must not (RFC 4511 §4.14.1).
 */
export async function startTls(scope: SessionScope, messageId: number, requestsWaiting: boolean): Promise<void> {
  const { connection } = scope;
  const context = scope.ctx.startTls;
  if (!context) {
    connection.write(extendedResponse(messageId, { code: ResultCode.protocolError, message: 'StartTLS is not offered: the node has no certificate or serves LDAPS' }));
    return;
  }
  if (connection.secure) {
    connection.write(extendedResponse(messageId, { code: ResultCode.operationsError, message: 'TLS is already established' }));
    return;
  }
  if (connection.pendingInput || requestsWaiting) {
    connection.disconnect(ResultCode.protocolError, 'data after a StartTLS request');
    return;
  }
  await connection.upgrade(context, extendedResponse(messageId, { code: ResultCode.success }, OID.startTls));
}
