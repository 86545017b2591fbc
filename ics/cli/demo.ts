// A guided run of the lifecycle of DESIGN §1 on the record model alone, in memory:
// manufacturer registers a device, integrator countersigns, a gateway asks for the
// verdict, the device is reported stolen; a developer releases then deprecates firmware.
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import {
  armor,
  certify,
  codeStatement,
  evaluateVerdict,
  generateIdentity,
  IssuerKeyring,
  mergeRecords,
  parseKeyRecord,
  signCode,
  type Verdict,
  type VerdictPolicy,
} from '../record/index.ts';

export async function runDemo(options: { json: boolean; out: Writable }): Promise<Verdict[]> {
  const say = (line = '') => {
    if (!options.json) options.out.write(`${line}\n`);
  };
  const verdicts: Verdict[] = [];
  const show = (label: string, v: Verdict) => {
    verdicts.push(v);
    say(`  ${label}: ${v.trusted ? 'TRUSTED' : 'NOT TRUSTED'} (status ${v.status ?? 'none'})`);
    for (const r of v.reasons) say(`    [${r.severity}] ${r.code}: ${r.message}`);
  };

  say('Issuers');
  const manufacturer = await generateIdentity({ userId: 'urn:cm4it:org:acme.example' });
  const integrator = await generateIdentity({ userId: 'urn:cm4it:org:integrator.example', algorithm: 'p256' });
  const developer = await generateIdentity({ userId: 'urn:cm4it:org:firmware.acme.example' });
  for (const [name, id] of [
    ['manufacturer', manufacturer],
    ['integrator', integrator],
    ['developer', developer],
  ] as const) {
    say(`  ${name.padEnd(12)} ${id.record.id}  ${id.record.userIds[0]?.userId}`);
  }
  const issuers = await IssuerKeyring.fromRecords([manufacturer.record, integrator.record, developer.record]);
  const policy: VerdictPolicy = {
    issuers: [
      { fingerprint: manufacturer.record.id, roles: ['manufacturer'] },
      { fingerprint: integrator.record.id, roles: ['integrator', 'maintainer'] },
      { fingerprint: developer.record.id, roles: ['developer'] },
    ],
    requiredRoles: ['manufacturer', 'integrator'],
  };

  say('\n1. The manufacturer registers a device and states it in use');
  const device = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN12345' });
  const registered = await certify(device.record, manufacturer.privateKey, {
    role: 'manufacturer',
    status: 'in-use',
    metadata: { model: 'cam-3', serial: 'SN12345' },
  });
  say(`  device ${registered.id} (${registered.kind}), ${registered.bytes.length} bytes`);
  show('verdict', evaluateVerdict(registered, policy));

  say('\n2. The integrator countersigns it (a copy travels, the keyserver merges)');
  const countersigned = await certify(registered, integrator.privateKey, { role: 'integrator', deny: ['video-recording'] });
  const received = await parseKeyRecord(armor('publicKey', countersigned.bytes), { issuers });
  const merged = mergeRecords(registered, received.record);
  say(`  merged digest ${merged.digest.slice(0, 16)}…, ${merged.userIds[0]?.signatures.length} signatures`);
  show('verdict', evaluateVerdict(merged, policy));

  say('\n3. The manufacturer reports the device stolen');
  const stolen = await certify(
    merged,
    manufacturer.privateKey,
    { role: 'manufacturer', status: 'stolen' },
    {
      created: new Date(Date.now() + 1000),
    },
  );
  show('verdict', evaluateVerdict(stolen, { ...policy, now: new Date(Date.now() + 2000) }));

  say('\n4. The developer releases firmware, later deprecates it');
  const digest = createHash('sha256').update('acme-cam-fw 3.2.1 image').digest('hex');
  const statement = codeStatement('acme-cam-fw', '3.2.1', { sha256: digest });
  const codePolicy: VerdictPolicy = { issuers: policy.issuers, requiredRoles: ['developer'] };
  const released = await signCode(statement, developer.privateKey, { role: 'developer', status: 'released' });
  say(`  code ${released.id}`);
  show('verdict', evaluateVerdict(released, codePolicy));
  const deprecated = await signCode(
    statement,
    developer.privateKey,
    { role: 'developer', status: 'deprecated' },
    {
      created: new Date(Date.now() + 1000),
      record: released,
    },
  );
  show('verdict', evaluateVerdict(deprecated, { ...codePolicy, now: new Date(Date.now() + 2000) }));

  if (options.json) options.out.write(`${JSON.stringify(verdicts, null, 2)}\n`);
  return verdicts;
}
