// Attack: a compressed-data packet that inflates to gigabytes. Records never contain
// compressed data, so the frame scan refuses it before anything is inflated.
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { isIcsError } from '../../ics/errors.ts';
import { armor, parseRecord } from '../../ics/record/index.ts';
import { framePacket, PacketTag } from '../../ics/record/packets.ts';

describe('security: compressed-packet bomb', () => {
  it('is refused with PACKET_NOT_ALLOWED, armored or binary, without inflating it', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const bomb = framePacket(PacketTag.compressedData, Buffer.concat([Buffer.from([1]), deflateRawSync(zeros, { level: 9 })]));
    assert.ok(bomb.length < 100_000, 'the bomb itself is small');
    const before = process.memoryUsage().rss;
    for (const input of [bomb, armor('message', bomb)]) {
      await assert.rejects(parseRecord(input), (e: unknown) => isIcsError(e, 'PACKET_NOT_ALLOWED'));
    }
    assert.ok(process.memoryUsage().rss - before < 32 * 1024 * 1024, 'nothing was inflated');
  });
});
