// Add (RFC 4511 §4.7), modify (§4.6), delete (§4.8) and modify DN (§4.9): keys are written
// through the one write path (write.ts); records are never deleted or renamed, so a user
// allowed to write is told so, and anyone else that writes need a bind.
import { isDn, type RequestOf } from '../ldapjs.ts';
import { Op, ResultCode } from '../protocol.ts';
import type { SessionScope } from '../session-context.ts';
import { add, modify, type Writer } from '../write.ts';

function writer(scope: SessionScope): Writer {
  const { identity } = scope;
  return {
    reader: scope.ctx.directory.reader(identity.principal),
    name: identity.name,
    mayWrite: identity.user?.write === true,
    origin: `${identity.name ?? 'anonymous'}@${scope.remote}`,
  };
}

export async function addOperation(scope: SessionScope, request: RequestOf<'add'>): Promise<void> {
  const { ctx } = scope;
  scope.connection.respond(request.messageId, Op.addRequest, await add(ctx.directory, ctx.ingest, writer(scope), request, ctx.maxKeyBytes));
}

export async function modifyOperation(scope: SessionScope, request: RequestOf<'modify'>): Promise<void> {
  const { ctx } = scope;
  scope.connection.respond(request.messageId, Op.modifyRequest, await modify(ctx.directory, ctx.ingest, writer(scope), request, ctx.maxKeyBytes));
}

export function deleteOrRenameOperation(scope: SessionScope, request: RequestOf<'delete' | 'modifyDn'>): void {
  const op = request.op === 'delete' ? Op.delRequest : Op.modDnRequest;
  const respond = scope.connection.respond.bind(scope.connection, request.messageId, op);
  if (!isDn(request.entry)) {
    respond({ code: ResultCode.invalidDNSyntax, message: 'invalid DN' });
    return;
  }
  if (!scope.identity.user?.write) {
    respond({ code: ResultCode.insufficientAccessRights, message: 'writes need a bind as a user allowed to write' });
    return;
  }
  respond({ code: ResultCode.unwillingToPerform, message: 'records are never deleted or renamed: revoke the key or withdraw signatures instead' });
}
