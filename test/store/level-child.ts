// Child process for test/store/level.test.ts. `write <db> <records>`: writes the records with
// acknowledged (fsynced) writes, several in flight, printing `ACK <id> <seq>` after each, then
// idles until killed. `hold <db>`: opens the store, prints `OPEN` and idles.
import { readFileSync } from 'node:fs';
import { reviveRecord } from '../../ics/record/index.ts';
import { LevelStore } from '../../ics/store/level/index.ts';

const IN_FLIGHT = 4;
const [mode, path, input] = process.argv.slice(2);
if (!path || (mode !== 'write' && mode !== 'hold')) throw new Error('usage: level-child.ts write|hold <db> [records]');

const store = await LevelStore.open({ path, syncWrites: true });
if (mode === 'hold') {
  process.stdout.write('OPEN\n');
} else {
  const data = readFileSync(input as string);
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const length = data.readUInt32LE(at);
    pieces.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  let next = 0;
  const worker = async () => {
    while (next < pieces.length) {
      const record = await reviveRecord(pieces[next++] as Buffer);
      const event = await store.write({ record, domains: ['devices'], expectedDigest: undefined, source: 'import', signaturesAdded: 2, summary: 'registered' });
      // Pipes are written synchronously on Linux: the line is out before the next write starts.
      process.stdout.write(`ACK ${event.id} ${event.seq}\n`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}
setInterval(() => {}, 60_000);
