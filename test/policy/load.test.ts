import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, parsePolicy, policyFromObject, trustGaps } from '../../ics/policy/index.ts';
import { DEFAULT_LIMITS, ROLES } from '../../ics/record/index.ts';
import { fileErrors, PEER_A, rejection } from './helpers.ts';

const FPR = '3203EDAC1C08288B4B6F5673271158A6D9474E2B';

const VALID = `
version: 1
trust:
  issuers:
    - name: acme
      fingerprint: ${FPR}
      roles: [manufacturer]
domains:
  - name: devices
    select: { kinds: [device], signedBy: { role: manufacturer } }
    accept: { requireRoles: [manufacturer] }
    read: public
  - name: private
    read: { peers: [${PEER_A}] }
sync:
  peers:
    - { name: maintenance, peerId: ${PEER_A}, pull: [devices], push: [private] }
`;

const paths = (errors: Array<{ path: string }>) => errors.map((e) => e.path).sort();

describe('policy/load', () => {
  it('applies the documented defaults, lower-cases fingerprints and freezes the result', () => {
    const policy = parsePolicy(VALID, 'node.yaml');
    assert.equal(policy.source, 'node.yaml');
    assert.equal(policy.trust.issuers[0]?.fingerprint, FPR.toLowerCase());
    const [devices, priv] = policy.domains;
    assert.deepEqual(devices?.write.roles, [...ROLES]);
    assert.deepEqual(devices?.limits, { maxRecordBytes: DEFAULT_LIMITS.maxRecordBytes, maxSignaturesPerSigner: DEFAULT_LIMITS.maxSignaturesPerSigner });
    assert.deepEqual(devices?.verdict, { requiredRoles: ['manufacturer'], allowMissingStatus: false });
    assert.deepEqual(devices?.read, { public: true });
    assert.deepEqual(priv?.select, {});
    assert.deepEqual(priv?.accept, { requireRoles: [] });
    assert.deepEqual(priv?.read, { public: false, peers: [PEER_A], authenticated: false, users: [], groups: [] });
    assert.deepEqual(policy.sync.peers[0], { name: 'maintenance', peerId: PEER_A, addresses: [], pull: ['devices'], push: ['private'], intervalSeconds: 60 });
    assert.ok(Object.isFrozen(policy) && Object.isFrozen(policy.domains) && Object.isFrozen(devices?.select.kinds));
    assert.throws(() => (policy.domains[0]?.accept.requireRoles as string[]).push('owner'), TypeError);
  });

  it('a minimal file is a public keyserver policy without issuers or peers', () => {
    const policy = parsePolicy('version: 1\ndomains: [{ name: all, read: public }]\n', 'min.yaml');
    assert.deepEqual(policy.trust.issuers, []);
    assert.deepEqual(policy.sync.peers, []);
  });

  it('reads JSON by extension or by content, and YAML otherwise', () => {
    const object = { version: 1, domains: [{ name: 'all', read: 'public' }] };
    assert.equal(parsePolicy(JSON.stringify(object), 'p.json').domains[0]?.name, 'all');
    assert.equal(parsePolicy(JSON.stringify(object), 'inline').domains[0]?.name, 'all');
    assert.equal(parsePolicy('version: 1\ndomains: [{ name: all, read: public }]', 'inline').domains[0]?.name, 'all');
  });

  it('refuses every schema problem of a file at once, each with its JSON path and line', async () => {
    const text = [
      'version: 1', //                                   1
      'trust:', //                                       2
      '  issuers:', //                                   3
      '    - name: acme', //                             4
      '      fingerprint: 3203edac1c08', //              5  too short
      '      roles: [manufacturer, emperor]', //         6  unknown role
      '      domains: [nowhere]', //                     7  unknown domain
      'domains:', //                                     8
      '  - name: devices', //                            9
      '    colour: blue', //                             10 unknown property
      '    limits: { maxRecordBytes: big }', //          11 wrong type
      '    read: private', //                            12 neither "public" nor an object
      '  - name: Bad_Name', //                           13 bad name (read missing: private)
      'sync:', //                                        14
      '  peers:', //                                     15
      `    - { name: m, peerId: ${PEER_A}, pull: [devices, missing] }`, // 16 unknown domain
    ].join('\n');
    const error = await rejection(() => parsePolicy(text, 'bad.yaml'), 'CONFIG_INVALID');
    const errors = fileErrors(error);
    assert.deepEqual(paths(errors), [
      '/domains/0/colour',
      '/domains/0/limits/maxRecordBytes',
      '/domains/0/read',
      '/domains/1/name',
      '/sync/peers/0/pull/1',
      '/trust/issuers/0/domains/0',
      '/trust/issuers/0/fingerprint',
      '/trust/issuers/0/roles/1',
    ]);
    assert.ok(errors.every((e) => e.file === 'bad.yaml'));
    const lineOf = (path: string) => errors.find((e) => e.path === path)?.line;
    assert.equal(lineOf('/trust/issuers/0/fingerprint'), 5);
    assert.equal(lineOf('/domains/0/colour'), 10);
    assert.equal(lineOf('/domains/0/limits/maxRecordBytes'), 11);
    assert.equal(lineOf('/sync/peers/0/pull/1'), 16);
  });

  it('refuses a YAML syntax error with its line and column', async () => {
    const text = 'version: 1\ndomains:\n  - name: a\n    read: [public\n  - name: b\n';
    const [first, ...rest] = fileErrors(await rejection(() => parsePolicy(text, 'broken.yaml'), 'CONFIG_INVALID'));
    assert.ok(first);
    assert.equal(first.file, 'broken.yaml');
    assert.equal(first.path, '');
    assert.equal(first.line, 5);
    assert.equal(typeof first.column, 'number');
    assert.ok(rest.every((e) => e.path === ''));
  });

  it('refuses duplicate keys, custom tags and several documents in YAML', async () => {
    const duplicate = fileErrors(await rejection(() => parsePolicy('version: 1\nversion: 1\ndomains: []\n', 'dup.yaml'), 'CONFIG_INVALID'));
    assert.equal(duplicate[0]?.line, 2);
    await rejection(() => parsePolicy('version: 1\ndomains: [{ name: a, read: !secret public }]\n', 'tag.yaml'), 'CONFIG_INVALID');
    await rejection(() => parsePolicy('version: 1\n---\nversion: 1\n', 'two.yaml'), 'CONFIG_INVALID');
  });

  it('refuses alias expansion beyond the cap (billion laughs)', async () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    await rejection(() => parsePolicy(lines.join('\n'), 'laughs.yaml'), 'CONFIG_INVALID');
  });

  it('refuses JSON syntax errors with a line, and duplicate keys in JSON', async () => {
    const syntax = fileErrors(await rejection(() => parsePolicy('{\n  "version": 1,\n  "domains": [,]\n}', 'p.json'), 'CONFIG_INVALID'));
    assert.equal(syntax[0]?.line, 3);
    const dup = fileErrors(await rejection(() => parsePolicy('{"version": 1, "version": 1, "domains": []}', 'p.json'), 'CONFIG_INVALID'));
    assert.equal(dup[0]?.line, 1);
  });

  it('reports cross-field problems with their paths, all at once', async () => {
    const object = {
      version: 1,
      trust: {
        issuers: [
          { name: 'acme', fingerprint: FPR, roles: ['manufacturer'] },
          { name: 'acme', fingerprint: FPR.toLowerCase(), roles: ['integrator'], domains: ['devices', 'gone'] },
        ],
      },
      domains: [
        { name: 'devices', select: { signedBy: { role: 'manufacturer', issuer: 'nobody' } }, accept: { requireRoles: ['owner'] }, read: 'public' },
        { name: 'devices', write: { roles: ['owner'] }, accept: { requireRoles: ['integrator'] }, read: { authenticated: true } },
        { name: 'closed', read: { peers: [] } },
      ],
      sync: {
        peers: [
          { name: 'p', peerId: PEER_A, push: ['closed', 'nowhere'] },
          { name: 'p', peerId: PEER_A },
        ],
      },
    };
    const errors = fileErrors(await rejection(() => policyFromObject(object, 'x.json'), 'CONFIG_INVALID'));
    // requireRoles owner with no issuer for it is a trust gap (trustGaps), not an error.
    assert.deepEqual(paths(errors), [
      '/domains/0/select/signedBy/issuer', // no issuer named "nobody"
      '/domains/1/accept/requireRoles/0', // integrator: not in write.roles
      '/domains/1/name', // duplicate domain
      '/sync/peers/0/push/0', // the peer may not read "closed"
      '/sync/peers/0/push/1', // unknown domain
      '/sync/peers/1/name', // peer named twice
      '/sync/peers/1/peerId', // same peer id twice
      '/trust/issuers/1/fingerprint', // duplicate fingerprint (case-insensitive)
      '/trust/issuers/1/domains/1', // unknown domain
      '/trust/issuers/1/name', // duplicate issuer name
    ].sort());
  });

  it('a role no issuer may sign in is a trust gap, not an error: a fresh node adds issuers one by one', () => {
    const policy = policyFromObject(
      {
        version: 1,
        trust: { issuers: [{ name: 'dev', fingerprint: FPR, roles: ['developer'], domains: ['firmware'] }] },
        domains: [
          { name: 'devices', select: { signedBy: { role: 'manufacturer' } }, accept: { requireRoles: ['manufacturer', 'owner'] }, read: 'public' },
          { name: 'firmware', select: { signedBy: { role: 'developer' } }, accept: { requireRoles: ['developer'] }, read: 'public' },
          // The developer is trusted in `firmware` only, so here the role is missing too.
          { name: 'other', accept: { requireRoles: ['developer'] }, read: 'public' },
        ],
      },
      'gaps.json',
    );
    assert.deepEqual(
      trustGaps(policy).map((g) => [g.domain, g.role, g.path]),
      [
        ['devices', 'manufacturer', '/domains/0/select/signedBy/role'],
        ['devices', 'owner', '/domains/0/accept/requireRoles/1'],
        ['other', 'developer', '/domains/2/accept/requireRoles/0'],
      ],
    );
    assert.deepEqual(trustGaps(parsePolicy(VALID, 'valid.yaml')), []);
  });

  it('policyFromObject does not change the object it is given', () => {
    const object = { version: 1, domains: [{ name: 'all', read: 'public' }] };
    policyFromObject(object, 'mem');
    assert.deepEqual(object, { version: 1, domains: [{ name: 'all', read: 'public' }] });
  });

  it('loadPolicy reads a file, and refuses a missing one with CONFIG_INVALID', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ics-policy-'));
    try {
      await writeFile(join(dir, 'node.yaml'), VALID);
      assert.equal((await loadPolicy(join(dir, 'node.yaml'))).domains.length, 2);
      const error = await rejection(() => loadPolicy(join(dir, 'absent.yaml')), 'CONFIG_INVALID');
      assert.equal(fileErrors(error)[0]?.file, join(dir, 'absent.yaml'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
