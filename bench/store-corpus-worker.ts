// Worker thread of the store benchmark's corpus generator: makes the device records of each
// chunk of indexes it is sent and posts them back, length-prefixed. See store-corpus.ts.
import { generateKeyPairSync } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { deviceRecord, type Issuer } from './store-packets.ts';
import { deviceUserId, type IssuerSeed, issuerFromSeed, keyCreated } from './store-corpus-shared.ts';

interface Job {
  readonly start: number;
  readonly end: number;
}

const seeds = workerData as { manufacturer: IssuerSeed; integrator: IssuerSeed };
const manufacturer: Issuer = issuerFromSeed(seeds.manufacturer);
const integrator: Issuer = issuerFromSeed(seeds.integrator);

parentPort?.on('message', (job: Job) => {
  const parts: Buffer[] = [];
  for (let i = job.start; i < job.end; i++) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicRaw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const bytes = deviceRecord({ publicRaw, privateKey, created: keyCreated(i) }, deviceUserId(i), manufacturer, integrator);
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  const out = Buffer.concat(parts);
  const transfer = out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
  parentPort?.postMessage({ start: job.start, buffer: transfer }, [transfer]);
});
