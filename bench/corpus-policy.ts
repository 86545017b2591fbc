// The store corpus's issuers as records, and a policy that admits its devices: what a node
// needs to take the corpus through its ingest path (the HKP and log benchmarks).
import { closeSync, openSync, readSync } from 'node:fs';
import { PolicyEngine, policyFromObject } from '../ics/policy/index.ts';
import { type KeyRecord, parseRecord } from '../ics/record/index.ts';
import { type IssuerSeed, issuerFromSeed } from './store-corpus-shared.ts';
import { selfSignedKey } from './store-packets.ts';

const CORPUS_MAGIC = Buffer.from('ICS-STORE-CORPUS\n');

/** The issuers' seeds, from the corpus file's header. */
export function corpusSeeds(file: string): { manufacturer: IssuerSeed; integrator: IssuerSeed } {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(CORPUS_MAGIC.length + 4);
    readSync(fd, head, 0, head.length, 0);
    if (!head.subarray(0, CORPUS_MAGIC.length).equals(CORPUS_MAGIC)) throw new Error(`${file}: not a corpus`);
    const json = Buffer.alloc(head.readUInt32LE(CORPUS_MAGIC.length));
    readSync(fd, json, 0, json.length, head.length);
    return JSON.parse(json.toString('utf8')) as { manufacturer: IssuerSeed; integrator: IssuerSeed };
  } finally {
    closeSync(fd);
  }
}

export async function issuerRecord(seed: IssuerSeed): Promise<KeyRecord> {
  return (await parseRecord(selfSignedKey(issuerFromSeed(seed).key, seed.userId).bytes)).record as KeyRecord;
}

/** The corpus devices' domain: manufacturer-certified ACME devices, public, verdict needs both roles. */
export async function benchPolicy(manufacturer: KeyRecord, integrator: KeyRecord): Promise<PolicyEngine> {
  const policy = policyFromObject(
    {
      version: 1,
      trust: {
        issuers: [
          { name: 'acme', fingerprint: manufacturer.id, roles: ['manufacturer'] },
          { name: 'integrator', fingerprint: integrator.id, roles: ['integrator', 'maintainer'] },
        ],
      },
      domains: [
        {
          name: 'devices',
          select: { kinds: ['device'], userId: 'urn:cm4it:device:acme.example:*', signedBy: { role: 'manufacturer' } },
          accept: { requireRoles: ['manufacturer'] },
          read: 'public',
          verdict: { requiredRoles: ['manufacturer', 'integrator'] },
        },
      ],
      sync: { peers: [] },
    },
    'bench-hkp-policy.yaml',
  );
  return PolicyEngine.create(policy, [manufacturer, integrator]);
}
