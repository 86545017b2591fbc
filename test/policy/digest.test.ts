import assert from 'node:assert/strict';
import { PolicyEngine, parsePolicy } from '../../ics/policy/index.ts';
import { rejection } from './helpers.ts';

const FPR = 'b98c4e08638efcb2d3ac6540b797f9257df3a186';
const OTHER = '7d9ce1543ee4bd933d7580fc000b625e72306918';

const engineOf = (text: string) => PolicyEngine.create(parsePolicy(text, 'p.yaml'));

const ORIGINAL = `
version: 1
trust:
  issuers:
    - { name: acme, fingerprint: ${FPR}, roles: [manufacturer] }
domains:
  - name: devices
    select: { kinds: [device, gateway], userId: "urn:cm4it:*", signedBy: { role: manufacturer, issuer: acme } }
    accept: { requireRoles: [manufacturer] }
    write: { roles: [manufacturer, certifier] }
    read: public
`;

// The same meaning: keys and set items in another order, another local issuer name, the
// fingerprint in upper case, and rules outside the definition (read, limits, verdict) changed.
const REORDERED = `
domains:
  - read: { authenticated: true }
    limits: { maxRecordBytes: 4096 }
    verdict: { allowMissingStatus: true }
    write: { roles: [certifier, manufacturer] }
    accept: { requireRoles: [manufacturer] }
    select: { signedBy: { issuer: acme-gmbh, role: manufacturer }, userId: "urn:cm4it:*", kinds: [gateway, device] }
    name: devices
    description: another text
trust:
  issuers:
    - { roles: [manufacturer], fingerprint: ${FPR.toUpperCase()}, name: acme-gmbh }
version: 1
`;

describe('policy/domainDigest', () => {
  it('is a sha256 that does not depend on key order, set order or local names', async () => {
    const a = (await engineOf(ORIGINAL)).domainDigest('devices');
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal((await engineOf(REORDERED)).domainDigest('devices'), a);
  });

  it('changes with the selector, the accept and write rules and the membership issuers', async () => {
    const a = (await engineOf(ORIGINAL)).domainDigest('devices');
    const variants = [
      ORIGINAL.replace('userId: "urn:cm4it:*"', 'userId: "urn:cm4it:device:*"'),
      ORIGINAL.replace('kinds: [device, gateway]', 'kinds: [device]'),
      ORIGINAL.replace('write: { roles: [manufacturer, certifier] }', 'write: { roles: [manufacturer, certifier, owner] }'),
      ORIGINAL.replace('accept: { requireRoles: [manufacturer] }', 'accept: { requireRoles: [] }'),
      ORIGINAL.replace(`fingerprint: ${FPR}`, `fingerprint: ${OTHER}`),
    ];
    for (const text of variants) assert.notEqual((await engineOf(text)).domainDigest('devices'), a);
  });

  it('refuses an unknown domain with NOT_FOUND', async () => {
    const engine = await engineOf(ORIGINAL);
    await rejection(() => engine.domainDigest('nowhere'), 'NOT_FOUND');
  });
});
