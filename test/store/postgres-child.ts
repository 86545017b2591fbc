// Child process for test/store/postgres.test.ts. `write <url> <records>`: writes the records
// with acknowledged (committed) writes, several in flight, printing `ACK <id> <seq>` after
// each, then idles until killed.
import { readFileSync } from 'node:fs';
import { reviveRecord } from '../../ics/record/index.ts';
import { PostgresStore } from '../../ics/store/postgres/index.ts';

const IN_FLIGHT = 4;
const [mode, url, input] = process.argv.slice(2);
if (!url || !input || mode !== 'write') throw new Error('usage: postgres-child.ts write <url> <records>');

const store = await PostgresStore.open({ url });
const data = readFileSync(input);
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
setInterval(() => {}, 60_000);
