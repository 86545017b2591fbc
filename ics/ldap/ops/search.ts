// Search (RFC 4511 §4.5.1): checks what the request asks (attributes, filter, paged-results
// control), runs it (search.ts) as the session's bound identity, and writes the entries with
// the SearchResultDone in one system call, or in chunks for large results.
import { selectionOf } from '../entry.ts';
import { compileFilter, FilterError, FilterLimitError } from '../filter.ts';
import { PAGED_RESULTS_OID, pagedValue, type RequestOf } from '../ldapjs.ts';
import { MAX_REQUESTED_ATTRIBUTES } from '../limits.ts';
import { envelope, Op, ResultCode, resultMessage } from '../protocol.ts';
import { search } from '../search.ts';
import { rawFilter } from '../search-request.ts';
import type { SessionScope } from '../session-context.ts';

/** Search output gathered before a write: big enough for most results, small enough not to hoard memory. */
const OUTPUT_CHUNK_BYTES = 256 * 1024;

/** `abandoned()` turns true when the client abandons the search (RFC 4511 §4.11) or leaves. */
export async function searchOperation(scope: SessionScope, request: RequestOf<'search'>, message: Buffer, abandoned: () => boolean): Promise<void> {
  const { connection, identity } = scope;
  const dir = scope.ctx.directory;
  const id = request.messageId;
  if (request.attributes.length > MAX_REQUESTED_ATTRIBUTES) {
    connection.respond(id, Op.searchRequest, { code: ResultCode.adminLimitExceeded, message: `more than ${MAX_REQUESTED_ATTRIBUTES} attributes requested` });
    return;
  }
  let filter;
  try {
    filter = compileFilter(request.filter);
  } catch (error) {
    if (error instanceof FilterLimitError) {
      connection.respond(id, Op.searchRequest, { code: ResultCode.adminLimitExceeded, message: error.message });
      return;
    }
    if (error instanceof FilterError) {
      connection.respond(id, Op.searchRequest, { code: ResultCode.protocolError, message: error.message });
      return;
    }
    throw error;
  }
  const pagedControl = request.controls.find((c) => c.type === PAGED_RESULTS_OID);
  const paged = pagedControl ? pagedValue(pagedControl) : undefined;
  if (pagedControl && !paged) {
    connection.respond(id, Op.searchRequest, { code: ResultCode.protocolError, message: 'malformed paged results control' });
    return;
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (last?: Buffer) => {
    if (last) pending.push(last);
    connection.writeAll(pending);
    pending = [];
    pendingBytes = 0;
  };
  const sink = {
    send: (op: Buffer) => {
      const entry = envelope(id, op);
      pending.push(entry);
      pendingBytes += entry.length;
      if (pendingBytes >= OUTPUT_CHUNK_BYTES) flush();
    },
    get stopped() {
      return abandoned();
    },
    drain: () => connection.drain(),
  };
  const principal = identity.principal;
  const outcome = await search(
    dir,
    dir.reader(principal),
    {
      base: request.base,
      scope: request.scope,
      sizeLimit: request.sizeLimit,
      timeLimit: request.timeLimit,
      filter,
      filterKey: () => rawFilter(message),
      selection: selectionOf(request.attributes, request.typesOnly),
      binding: () => Buffer.from(JSON.stringify([scope.connectionId.toString('base64'), principal, request.attributes, request.typesOnly])),
      paged,
    },
    scope.ctx.limits,
    sink,
  );
  if (outcome.result && !abandoned()) flush(resultMessage(id, Op.searchResultDone, outcome.result, outcome.controls));
}
