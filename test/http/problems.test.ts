// Every HTTP answer to a failure comes from the one error table (ics/errors.ts), fastify's own
// request errors and missing credentials included.
import assert from 'node:assert/strict';
import { ERROR_CODES, IcsError } from '../../ics/errors.ts';
import { AuthenticationRequired } from '../../ics/http/index.ts';
import { toProblem } from '../../ics/http/problems.ts';

describe('http: problems', () => {
  it('credentials: UNAUTHENTICATED with its status from the table and a basic-auth challenge', () => {
    for (const error of [new AuthenticationRequired('wrong user name or password'), new IcsError('UNAUTHENTICATED', 'wrong user name or password')]) {
      const problem = toProblem(error);
      assert.equal(problem.code, 'UNAUTHENTICATED');
      assert.equal(problem.status, ERROR_CODES.UNAUTHENTICATED.http);
      assert.equal(problem.status, 401);
      assert.equal(problem.message, 'wrong user name or password');
      assert.match(problem.headers?.['www-authenticate'] ?? '', /^Basic realm="ics"/);
    }
  });

  it('fastify’s unsupported media type and request timeout: UNSUPPORTED_MEDIA_TYPE 415, REQUEST_TIMEOUT 408', () => {
    const media = toProblem({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'Unsupported Media Type' });
    assert.deepEqual([media.code, media.status, media.fault], ['UNSUPPORTED_MEDIA_TYPE', ERROR_CODES.UNSUPPORTED_MEDIA_TYPE.http, 'client']);
    assert.equal(media.status, 415);
    const timeout = toProblem({ statusCode: 408, message: 'Request Timeout' });
    assert.deepEqual([timeout.code, timeout.status, timeout.fault], ['REQUEST_TIMEOUT', ERROR_CODES.REQUEST_TIMEOUT.http, 'client']);
    assert.equal(timeout.status, 408);
    const other = toProblem({ statusCode: 400, message: 'bad JSON' });
    assert.deepEqual([other.code, other.status], ['BAD_REQUEST', 400]);
  });

  it('anything not ours: INTERNAL 500 with a fixed text', () => {
    const problem = toProblem(new Error('disk on fire at /var/lib/secret-path'));
    assert.deepEqual([problem.code, problem.status, problem.fault, problem.message], ['INTERNAL', 500, 'server', 'internal error']);
  });
});
