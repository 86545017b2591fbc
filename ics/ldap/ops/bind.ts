// Bind (RFC 4511 §4.2): anonymous, or simple (RFC 4513 §5.1) as `cn=<name>,ou=users,<base>`,
// only over TLS unless plain binds are allowed. A failed bind leaves the session anonymous.
// Each password costs a scrypt check, so failed binds are limited per client address: past
// the limit, binds with a password are answered busy (51) unchecked until the window ends.
import { addressKey } from '../../net/clients.ts';
import type { RequestOf } from '../ldapjs.ts';
import { Op, type Result, ResultCode, resultMessage } from '../protocol.ts';
import { ANONYMOUS, type SessionScope } from '../session-context.ts';

export async function bind(scope: SessionScope, request: RequestOf<'bind'>): Promise<void> {
  const { ctx, connection, identity } = scope;
  const reply = (result: Result) => connection.write(resultMessage(request.messageId, Op.bindResponse, result));
  identity.principal = ANONYMOUS;
  identity.user = undefined;
  identity.name = undefined;
  connection.setIdleTimeout(ctx.idleTimeoutMs.anonymous);
  if (request.version !== 3) {
    reply({ code: ResultCode.protocolError, message: 'only LDAPv3 is supported' });
    return;
  }
  if (request.name === '' && request.credentials === '') {
    reply({ code: ResultCode.success });
    return;
  }
  if (request.credentials === '') {
    // An unauthenticated bind (a name, no password): refused by default (RFC 4513 §5.1.2).
    reply({ code: ResultCode.unwillingToPerform, message: 'unauthenticated binds are not allowed' });
    return;
  }
  if (!connection.secure && !ctx.allowInsecureBind) {
    reply({ code: ResultCode.confidentialityRequired, message: 'binds with a password need LDAPS or StartTLS' });
    return;
  }
  let target;
  try {
    target = ctx.directory.dit.resolve(request.name);
  } catch {
    reply({ code: ResultCode.invalidDNSyntax, message: 'invalid bind DN' });
    return;
  }
  const failures = ctx.bindFailures;
  const attempt = failures.limiter.reserve(scope.address);
  if ('retryAfter' in attempt) {
    failures.throttled();
    failures.log.warn({ listener: 'ldap', client: addressKey(scope.address), limit: `${failures.max} failures/${failures.window}` });
    reply({ code: ResultCode.busy, message: `more than ${failures.max} failed binds from this address; retry in ${attempt.retryAfter} s` });
    return;
  }
  let user;
  try {
    user = target.node === 'user' && ctx.authenticator ? await ctx.authenticator.authenticate(target.name, request.credentials) : undefined;
  } catch (error) {
    failures.limiter.release(attempt.key);
    throw error;
  }
  if (!user || target.node !== 'user') {
    failures.failed();
    scope.log.debug({ bind: request.name.slice(0, 200) }, 'bind refused');
    reply({ code: ResultCode.invalidCredentials });
    return;
  }
  failures.limiter.release(attempt.key);
  identity.principal = user.principal;
  identity.user = user;
  identity.name = target.name;
  connection.setIdleTimeout(ctx.idleTimeoutMs.bound);
  scope.log.debug({ user: target.name, write: user.write }, 'bound');
  reply({ code: ResultCode.success });
}
