// The node's libp2p key file (ics/sync/keys.ts): created 0600 with a stable peer id, refused
// when others may read it or when it is not a key.
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIcsError } from '../../ics/errors.ts';
import { loadOrCreatePeerKey, peerIdOfKeyFile } from '../../ics/sync/index.ts';
import { removeTempDirs, tempDir } from './helpers/nodes.ts';

describe('sync: libp2p key file', () => {
  after(removeTempDirs);

  it('is created once with mode 0600 and gives the same peer id on every load', async () => {
    const path = join(await tempDir(), 'keys', 'libp2p.key');
    const first = await loadOrCreatePeerKey(path);
    assert.equal(first.created, true);
    assert.match(first.peerId, /^12D3KooW/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = await loadOrCreatePeerKey(path);
    assert.equal(again.created, false);
    assert.equal(again.peerId, first.peerId);
    assert.equal(await peerIdOfKeyFile(path), first.peerId);
  });

  it('refuses a key file others may read, and a file that is not a key, with KEY_UNUSABLE', async () => {
    const path = join(await tempDir(), 'libp2p.key');
    await loadOrCreatePeerKey(path);
    await chmod(path, 0o644);
    await assert.rejects(loadOrCreatePeerKey(path), (e: unknown) => isIcsError(e, 'KEY_UNUSABLE'));
    const junk = join(await tempDir(), 'junk.key');
    await writeFile(junk, 'not a key', { mode: 0o600 });
    await assert.rejects(loadOrCreatePeerKey(junk), (e: unknown) => isIcsError(e, 'KEY_UNUSABLE'));
  });
});
