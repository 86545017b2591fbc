// Password checks: right and wrong passwords; at most CONCURRENT_CHECKS scrypt checks at once
// node-wide (each holds ~32 MiB while it runs); clients sending the same credentials at once
// share one check.
import assert from 'node:assert/strict';
import { type Authenticator, createAuthenticator } from '../../ics/auth/authenticator.ts';
import { CONCURRENT_CHECKS, checksRunning, hashPassword, verifyPassword } from '../../ics/auth/password.ts';
import { Access, AuthenticationRequired } from '../../ics/http/access.ts';

const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

describe('password checks', function () {
  this.timeout(60_000);
  let hash: string;

  before(async () => {
    hash = await hashPassword('correct horse');
  });

  it('accepts the password and refuses others', async () => {
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horsE', hash), false);
    assert.equal(await verifyPassword('', hash), false);
    assert.equal(await verifyPassword('correct horse', 'md5$x'), false);
  });

  it(`runs at most ${CONCURRENT_CHECKS} scrypt checks at once, and answers every one`, async () => {
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, checksRunning())), 1);
    const passwords = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? 'correct horse' : `wrong ${i}`));
    const answers = await Promise.all(passwords.map((p) => verifyPassword(p, hash)));
    clearInterval(watch);
    assert.deepEqual(answers, [true, false, true, false, true, false]);
    assert.ok(most >= 1 && most <= CONCURRENT_CHECKS, `at most ${most} at once`);
    assert.equal(checksRunning(), 0);
  });

  it('shares one check between clients sending the same credentials at once', async () => {
    const real = createAuthenticator([{ name: 'alice', passwordHash: hash, write: false }]);
    let checks = 0;
    const counting: Authenticator = {
      authenticate: (name, password) => {
        checks++;
        return real.authenticate(name, password);
      },
    };
    const access = new Access(counting);
    const callers = await Promise.all(Array.from({ length: 5 }, () => access.caller(basic('alice', 'correct horse'))));
    assert.equal(checks, 1);
    for (const c of callers) assert.deepEqual(c.principal, { kind: 'user', name: 'alice', groups: [] });
    // Remembered afterwards: no further check.
    await access.caller(basic('alice', 'correct horse'));
    assert.equal(checks, 1);
    // A wrong password is checked (and refused) every time it comes, shared only while in flight.
    const wrong = await Promise.allSettled(Array.from({ length: 3 }, () => access.caller(basic('alice', 'wrong'))));
    assert.ok(wrong.every((w) => w.status === 'rejected' && w.reason instanceof AuthenticationRequired));
    assert.equal(checks, 2);
    await assert.rejects(access.caller(basic('alice', 'wrong')), AuthenticationRequired);
    assert.equal(checks, 3);
  });
});
