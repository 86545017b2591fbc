// The armor codec: its writer must produce openpgp.js's text to the byte (HKP, LDAP and the
// CLI serve it, GnuPG reads it), its fast key-block reader must read what openpgp.js reads
// and leave every other shape to it, and the general reader must undo the writer.
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { type IcsErrorCode, isIcsError } from '../../ics/errors.ts';
import { type ArmorKind, crc24 } from '../../ics/record/armor.ts';
import { armor, DEFAULT_LIMITS, dearmor, decodePublicKeyArmor, generateIdentity, isArmored } from '../../ics/record/index.ts';
import { seededRandom } from '../helpers/random.ts';

type ArmorWithChecksum = (type: number, body: Uint8Array, partIndex?: number, partTotal?: number, comment?: string, emitChecksum?: boolean) => string;

/** openpgp.js's armor with the CRC-24 line: the writer's reference. */
function openpgpArmor(kind: ArmorKind, bytes: Uint8Array): string {
  const type = { publicKey: openpgp.enums.armor.publicKey, message: openpgp.enums.armor.message, signature: openpgp.enums.armor.signature }[kind];
  // A fresh copy: openpgp.js's CRC-24 reads the bytes as 32-bit words and needs an aligned offset.
  return (openpgp.armor as unknown as ArmorWithChecksum)(type, new Uint8Array(bytes), undefined, undefined, undefined, true);
}

const KINDS: readonly ArmorKind[] = ['publicKey', 'message', 'signature'];

describe('record/armor', () => {
  describe('armor (the writer)', () => {
    it('writes what openpgp.js writes, for every kind, around the line and base64 group sizes and at 1 MiB', () => {
      const rng = seededRandom(0xa5c); // the same bytes on every run
      for (const kind of KINDS) {
        for (const n of [0, 1, 2, 3, 44, 45, 46, 59, 60, 61, 89, 90, 91, 1024 * 1024]) {
          const bytes = rng.bytes(n);
          assert.equal(armor(kind, bytes), openpgpArmor(kind, bytes), `${kind}, ${n} bytes`);
        }
      }
    });

    it('writes what openpgp.js writes at every length up to 200 bytes', () => {
      const rng = seededRandom(0x5ca);
      for (let n = 0; n <= 200; n++) {
        const bytes = rng.bytes(n);
        assert.equal(armor('publicKey', bytes), openpgpArmor('publicKey', bytes), `${n} bytes`);
      }
    });

    it('reads only the view it is given: a Uint8Array at an offset into a larger buffer', () => {
      const whole = seededRandom(7).bytes(300);
      const view = new Uint8Array(whole.buffer, whole.byteOffset + 13, 101);
      assert.equal(armor('message', view), openpgpArmor('message', view));
      assert.equal(armor('message', view), armor('message', Buffer.from(view)));
    });

    it('CRC-24 (RFC 4880 §6.1): the initial value for no bytes, the catalogue check value for "123456789"', () => {
      assert.equal(crc24(new Uint8Array()), 0xb704ce);
      assert.equal(crc24(Buffer.from('123456789')), 0x21cf02);
    });
  });

  describe('dearmor and isArmored (the general reader)', () => {
    it('undoes the writer for every kind; binary input passes through', async () => {
      const rng = seededRandom(0xdea);
      for (const kind of KINDS) {
        const bytes = rng.bytes(1000);
        const text = armor(kind, bytes);
        assert.equal(isArmored(text), true);
        assert.equal(isArmored(Buffer.from(`\n ${text}`)), true);
        assert.deepEqual(Buffer.from(await dearmor(text, DEFAULT_LIMITS)), bytes, kind);
      }
      const binary = new Uint8Array([0xc6, 0x01, 0x04]);
      assert.equal(isArmored(binary), false);
      assert.equal(await dearmor(binary, DEFAULT_LIMITS), binary);
    });

    it('refuses text that is not armor, armor without its end line, and input over the limits', async () => {
      const rejects = (input: string | Uint8Array, code: IcsErrorCode, limits = DEFAULT_LIMITS) =>
        assert.rejects(dearmor(input, limits), (e: unknown) => isIcsError(e, code));
      await rejects('hello', 'RECORD_MALFORMED');
      const text = armor('publicKey', Buffer.from('abc'));
      await rejects(text.slice(0, text.indexOf('-----END')), 'RECORD_MALFORMED');
      await rejects(armor('publicKey', Buffer.alloc(100)), 'LIMIT_EXCEEDED', { ...DEFAULT_LIMITS, maxArmoredBytes: 50 });
      await rejects(armor('publicKey', Buffer.alloc(100)), 'LIMIT_EXCEEDED', { ...DEFAULT_LIMITS, maxRecordBytes: 99 });
      await rejects(Buffer.alloc(100, 0x99), 'LIMIT_EXCEEDED', { ...DEFAULT_LIMITS, maxRecordBytes: 99 });
    });
  });

  describe('decodePublicKeyArmor (the fast reader of one key block)', () => {
    it('reads one armored key block exactly as dearmor does, headers and CRLF included, from text or bytes', async () => {
      const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:2' });
      const text = armor('publicKey', record.bytes);
      for (const variant of [
        text,
        text.replace(/\n/g, '\r\n'),
        text.replace('-----\n', '-----\nVersion: GnuPG v2\nComment: test\n'),
        `\n\n${text}\n\n`,
        text.replace(/^=.{4}$/m, '=AAAA'), // the CRC-24 line is advisory, as in openpgp.js
      ]) {
        const expected = await dearmor(variant, DEFAULT_LIMITS);
        for (const input of [variant, Buffer.from(variant)]) {
          const fast = decodePublicKeyArmor(input);
          assert.ok(fast, JSON.stringify(variant.slice(0, 80)));
          assert.deepEqual(new Uint8Array(fast), expected);
        }
      }
    });

    it('leaves anything else to dearmor (undefined)', async () => {
      const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:x:3' });
      const text = armor('publicKey', record.bytes);
      for (const variant of [
        `${text}\n${text}`, // a keyring of two blocks
        text.replace(/^([A-Za-z0-9+/]{4})/m, '!!!!'),
        text.replace('PUBLIC KEY BLOCK-----\n', 'PUBLIC KEY BLOCK-----\nnot a header\n'),
        text.slice(0, text.indexOf('-----END')),
        armor('message', record.bytes),
        armor('publicKey', new Uint8Array()),
        `${text.slice(0, 40)}\u00e9${text.slice(40)}`, // not ASCII
        'hello',
        `junk\n${text}`,
      ]) {
        assert.equal(decodePublicKeyArmor(variant), undefined, JSON.stringify(variant.slice(0, 80)));
      }
    });
  });
});
