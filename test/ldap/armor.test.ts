// pgpKey values are armored by ics/ldap/armor.ts exactly as the record model armors keys, so
// that LDAP serves the same text HKP does.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { armorPublicKey } from '../../ics/ldap/armor.ts';
import { armor } from '../../ics/record/index.ts';

describe('ldap/armor', () => {
  it('writes what the record model writes, at every length around the line and group sizes', () => {
    for (let n = 0; n < 200; n++) {
      const bytes = randomBytes(n);
      assert.equal(armorPublicKey(bytes), armor('publicKey', bytes), `${n} bytes`);
    }
    const big = randomBytes(64 * 1024 + 7);
    assert.equal(armorPublicKey(big), armor('publicKey', big));
  });
});
