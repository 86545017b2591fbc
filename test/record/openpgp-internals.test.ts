// openpgp.js internals this model relies on for making signatures (see
// ics/record/openpgp-internals.ts), so that a library upgrade that changes them fails here.
import assert from 'node:assert/strict';
import { binaryLiteral } from '../../ics/record/openpgp-internals.ts';

describe('record/openpgp-internals', () => {
  it('a binary literal signs its bytes as they are', () => {
    const literal = binaryLiteral(Buffer.from('{"a":1}'));
    const bytes = (literal as unknown as { getBytes(): Uint8Array }).getBytes();
    assert.equal(Buffer.from(bytes).toString(), '{"a":1}');
  });
});
