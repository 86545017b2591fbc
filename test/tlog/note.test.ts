// C2SP signed notes: the specification's Ed25519 example verifies with its verifier key and
// is refused with any byte changed; notes the node signs verify with the key it publishes.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkpointText, parseCheckpoint, parseVerifierKey, rawPublicKey, signNote, verifierKey, verifyNote } from '../../ics/tlog/index.ts';

const vector = (name: string) => readFileSync(fileURLToPath(new URL(`../vectors/signed-note/${name}`, import.meta.url)), 'utf8');

describe('tlog: signed notes (C2SP signed-note, Ed25519)', () => {
  const note = vector('signed-note-example.note');
  const vkey = vector('signed-note-example.vkey').trim();

  it("verifies C2SP's example with its verifier key", () => {
    assert.equal(verifyNote(note, parseVerifierKey(vkey)), 'This is an example message.\n');
  });

  it('refuses the example with any one byte changed (text, signature or key)', () => {
    const verifier = parseVerifierKey(vkey);
    for (let i = 0; i < note.length; i++) {
      const code = note.charCodeAt(i);
      // Changing the em dash's bytes, or a space, breaks the line's form; letters and digits change content.
      const changed = note.slice(0, i) + String.fromCharCode(code === 0x41 ? 0x42 : code === 0x0a ? 0x20 : code ^ 1) + note.slice(i + 1);
      assert.throws(() => verifyNote(changed, verifier), Error, `byte ${i} changed`);
    }
    const [name, hash] = vkey.split('+');
    const otherKey = Buffer.from(vkey.slice(`${name}+${hash}+`.length), 'base64');
    otherKey[5] = (otherKey[5] as number) ^ 1;
    assert.throws(() => parseVerifierKey(`${name}+${hash}+${otherKey.toString('base64')}`), /hash does not match/);
  });

  it('signs checkpoints that verify with the key it publishes, and only with it', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const origin = 'ics/acme-infield/devices';
    const root = Buffer.alloc(32, 7);
    const signed = signNote(checkpointText({ origin, size: 12, root }), origin, privateKey);
    const text = verifyNote(signed, parseVerifierKey(verifierKey(origin, rawPublicKey(privateKey))));
    assert.deepEqual(parseCheckpoint(text), { origin, size: 12, root });
    const other = generateKeyPairSync('ed25519').privateKey;
    assert.throws(() => verifyNote(signed, parseVerifierKey(verifierKey(origin, rawPublicKey(other)))), /no valid signature/);
  });
});
