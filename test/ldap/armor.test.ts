// pgpKey values are armored by ics/ldap/armor.ts exactly as the record model armors keys, so
// that LDAP serves the same text HKP does.
import assert from 'node:assert/strict';
import { armorPublicKey } from '../../ics/ldap/armor.ts';
import { armor } from '../../ics/record/index.ts';
import { seededRandom } from '../helpers/random.ts';

describe('ldap/armor', () => {
  it('writes what the record model writes, at every length around the line and group sizes', () => {
    const rng = seededRandom(0xa5c); // the same bytes on every run
    for (let n = 0; n < 200; n++) {
      const bytes = rng.bytes(n);
      assert.equal(armorPublicKey(bytes), armor('publicKey', bytes), `${n} bytes`);
    }
    const big = rng.bytes(64 * 1024 + 7);
    assert.equal(armorPublicKey(big), armor('publicKey', big));
  });
});
