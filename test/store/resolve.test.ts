// What a record reference is taken for (ics/store/resolve.ts), shared by `ics verify` and the
// JSON API: ids in any case with or without 0x, user IDs as they are, and id-shaped mistakes
// refused as such rather than searched for as user IDs. Resolution over a store and the read
// rules are tested over HTTP in test/hkp/api.test.ts.
import assert from 'node:assert/strict';
import { isIcsError } from '../../ics/errors.ts';
import { parseReference } from '../../ics/store/index.ts';

const FPR = '0123456789abcdef0123456789abcdef01234567';

describe('store/resolve: parseReference', () => {
  it('reads fingerprints, long key ids and code ids in any case, with or without 0x', () => {
    for (const ref of [FPR, FPR.toUpperCase(), `0x${FPR}`, `0X${FPR.toUpperCase()}`, `  ${FPR}\n`]) {
      assert.deepEqual(parseReference(ref), { kind: 'fingerprint', fingerprint: FPR }, ref);
    }
    for (const ref of [FPR.slice(-16), `0x${FPR.slice(-16).toUpperCase()}`]) {
      assert.deepEqual(parseReference(ref), { kind: 'keyId', keyId: FPR.slice(-16) }, ref);
    }
    const code = `sha256:${'ab'.repeat(32)}`;
    assert.deepEqual(parseReference(`SHA256:${'AB'.repeat(32)}`), { kind: 'code', id: code });
  });

  it('takes anything else as an exact user ID, trimmed but not case-folded', () => {
    for (const ref of ['urn:cm4it:device:acme.example:cam-3:SN12345', 'Alice <alice@example.org>', 'cafe', `${FPR}z`]) {
      assert.deepEqual(parseReference(` ${ref} `), { kind: 'userId', userId: ref }, ref);
    }
  });

  it('refuses id-shaped mistakes and empty or oversized references with BAD_REQUEST', () => {
    for (const ref of ['0xZZZZ', '0x', `0x${FPR.slice(1)}`, FPR.slice(1), FPR.slice(-8), 'sha256:xyz', 'ab'.repeat(32), 'ab'.repeat(16), '   ', 'u'.repeat(1025)]) {
      assert.throws(() => parseReference(ref), (e: unknown) => isIcsError(e, 'BAD_REQUEST'), ref);
    }
  });
});
