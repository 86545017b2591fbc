// The transparency log over HTTP, checked as a gateway checks it: a verdict with ?proof=1
// carries the record and its inclusion in each readable domain's log at a signed checkpoint,
// which verifies offline with the domain's verifier key (tlog's verifyLogProof and `ics log
// verify`); a later checkpoint is consistent with an earlier one; a proof for another version,
// a changed hash or another key is refused; a private domain's log does not exist for those
// who may not read it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certify, type KeyRecord } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { CheckpointSigner, leafHash, type LogProof, parseCheckpoint, parseLeaf, parseNote, TransparencyLog, verifyConsistency, verifyLogProof } from '../../ics/tlog/index.ts';
import { ics } from '../helpers/cli.ts';
import { mth } from '../tlog/helpers.ts';
import { acmeDeviceId, device } from '../policy/helpers.ts';
import { basic, startNode, type TestNode, tableAuthenticator } from '../hkp/helpers.ts';

interface ProofAnswer {
  verdict: { trusted: boolean; status: string | null };
  record: { id: string; digest: string; seq: number; armored: string };
  log: LogProof[];
}

describe('api: the transparency log (/ics/v1/log/…, verify?proof=1)', () => {
  let node: TestNode;
  let dir: string;
  const log = new TransparencyLog();
  const alice = { authorization: basic('alice', 'correct horse') };
  let first: KeyRecord;
  let siteDevice: KeyRecord;

  const submit = async (record: KeyRecord) => assert.notEqual((await node.ingest.submit(record.bytes, { source: 'cli' })).action, 'rejected');
  const proofOf = async (id: string, headers: Record<string, string> = {}) => {
    const response = await node.fetch(`/ics/v1/verify/${id}?proof=1`, { headers });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as ProofAnswer;
  };
  const key = async (domain: string, headers: Record<string, string> = {}) => (await (await node.fetch(`/ics/v1/log/${domain}/key`, { headers })).text()).trim();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ics-log-test-'));
    const store = await createMemoryStore({ derived: [log] });
    const signer = new CheckpointSigner(log, generateKeyPairSync('ed25519').privateKey, 'ics/test-node');
    node = await startNode({
      store,
      authenticator: tableAuthenticator({ alice: { password: 'correct horse', write: false } }),
      components: { log: { log, signer: async () => signer } },
    });
    const { f } = node;
    first = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    siteDevice = await device(`urn:cm4it:service:acme.example:site-a:broker-${Date.now()}`, [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.integrator, role: 'integrator' },
    ]);
    await submit(first);
    await submit(siteDevice);
  });

  after(async () => {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a verdict with ?proof=1 carries the record and its inclusion at a signed checkpoint, which verifies offline', async () => {
    const answer = await proofOf(first.id);
    assert.equal(answer.verdict.trusted, true);
    assert.equal(answer.record.id, first.id);
    assert.deepEqual(answer.log.map((p) => p.domain), ['devices']);
    const proof = answer.log[0] as LogProof;
    const { leaf, checkpoint } = verifyLogProof(proof, await key('devices'), { id: first.id, digest: answer.record.digest });
    assert.equal(leaf.seq, answer.record.seq);
    assert.equal(checkpoint.origin, 'ics/test-node/devices');
    // The plain verdict is unchanged.
    const plain = (await (await node.fetch(`/ics/v1/verify/${first.id}`)).json()) as { log?: unknown; trusted: boolean };
    assert.equal(plain.log, undefined);
  });

  it('refuses a proof for another version, a changed hash, a moved leaf, or another key', async () => {
    const answer = await proofOf(first.id);
    const proof = answer.log[0] as LogProof;
    const vkey = await key('devices');
    assert.throws(() => verifyLogProof(proof, vkey, { digest: 'ab'.repeat(32) }), /another version/);
    const changed = Buffer.from(proof.inclusion[0] ?? Buffer.alloc(32).toString('base64'), 'base64');
    changed[0] = (changed[0] as number) ^ 1;
    if (proof.inclusion.length > 0) assert.throws(() => verifyLogProof({ ...proof, inclusion: [changed.toString('base64'), ...proof.inclusion.slice(1)] }, vkey), /not at/);
    assert.throws(() => verifyLogProof({ ...proof, leaf: proof.leaf.replace(answer.record.digest, 'cd'.repeat(32)) }, vkey), /not at/);
    assert.throws(() => verifyLogProof({ ...proof, index: proof.index + 1 }, vkey), /not at/);
    const other = new CheckpointSigner(log, generateKeyPairSync('ed25519').privateKey, 'ics/test-node');
    assert.throws(() => verifyLogProof(proof, other.verifierKey('devices')), /no valid signature/);
  });

  it('a later checkpoint is consistent with an earlier one (the log only grows)', async () => {
    const before = parseCheckpoint(parseNote(await (await node.fetch('/ics/v1/log/devices/checkpoint')).text()).text);
    for (let i = 0; i < 5; i++) await submit(await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]));
    await submit(await certify(first, node.f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' }));
    const after = parseCheckpoint(parseNote(await (await node.fetch('/ics/v1/log/devices/checkpoint')).text()).text);
    assert.equal(after.size, before.size + 6);
    const answer = (await (await node.fetch(`/ics/v1/log/devices/consistency?from=${before.size}&to=${after.size}`)).json()) as { proof: string[] };
    const proof = answer.proof.map((h) => Buffer.from(h, 'base64'));
    assert.ok(verifyConsistency(before.size, after.size, before.root, after.root, proof));
    assert.ok(!verifyConsistency(before.size, after.size, Buffer.alloc(32, 1), after.root, proof), 'a rewritten history is refused');
    // The stolen status is a new leaf: the new version is proven, the old one stays in the log.
    const stolen = await proofOf(first.id);
    assert.equal(stolen.verdict.status, 'stolen');
    const { leaf } = verifyLogProof(stolen.log[0] as LogProof, await key('devices'), { id: first.id, digest: stolen.record.digest });
    assert.equal(leaf.digest, stolen.record.digest);
    assert.equal((await node.fetch(`/ics/v1/log/devices/consistency?from=${after.size}&to=${after.size + 1}`)).status, 400, 'no proof beyond the log');
  });

  it('serves its tree as C2SP hash tiles, from which a mirror computes the checkpoint’s root', async () => {
    const checkpoint = parseCheckpoint(parseNote(await (await node.fetch('/ics/v1/log/devices/checkpoint')).text()).text);
    const response = await node.fetch(`/ics/v1/log/devices/tile/0/000.p/${checkpoint.size}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    assert.match(response.headers.get('cache-control') ?? '', /no-cache/, 'a partial tile changes as the log grows');
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(bytes.length, 32 * checkpoint.size);
    const leaves = Array.from({ length: checkpoint.size }, (_, i) => bytes.subarray(32 * i, 32 * (i + 1)));
    assert.deepEqual(mth(leaves), checkpoint.root);
    for (const path of [`tile/0/000.p/${checkpoint.size + 1}`, 'tile/0/000', 'tile/1/000.p/1', 'tile/0/0', 'tile/0/000.p/256', 'tile/9/000', 'tile/0/x1/000']) {
      assert.equal((await node.fetch(`/ics/v1/log/devices/${path}`)).status, 404, path);
    }
    assert.equal((await node.fetch('/ics/v1/log/system/tile/0/000.p/1')).status, 404, 'a private domain’s tiles are not served to anonymous callers');
  });

  it('serves the leaves as C2SP entry bundles: each entry hashes to its leaf in tile 0 and names a version the node holds', async () => {
    const checkpoint = parseCheckpoint(parseNote(await (await node.fetch('/ics/v1/log/devices/checkpoint')).text()).text);
    const response = await node.fetch(`/ics/v1/log/devices/tile/entries/000.p/${checkpoint.size}`);
    assert.equal(response.status, 200);
    const bundle = Buffer.from(await response.arrayBuffer());
    const tile = Buffer.from(await (await node.fetch(`/ics/v1/log/devices/tile/0/000.p/${checkpoint.size}`)).arrayBuffer());
    const texts: string[] = [];
    for (let at = 0; at < bundle.length; ) {
      const length = bundle.readUInt16BE(at);
      texts.push(bundle.subarray(at + 2, at + 2 + length).toString('utf8'));
      at += 2 + length;
    }
    assert.equal(texts.length, checkpoint.size);
    texts.forEach((text, i) => assert.deepEqual(leafHash(Buffer.from(text, 'utf8')), tile.subarray(32 * i, 32 * (i + 1)), `entry ${i}`));
    // Each names a version of a record the node serves, with its digest.
    const leaf = parseLeaf(texts.at(-1) as string);
    assert.equal(leaf.domain, 'devices');
    const { events: history } = (await (await node.fetch(`/ics/v1/records/${encodeURIComponent(leaf.id)}/history`)).json()) as { events: Array<{ seq: number; digest: string }> };
    assert.ok(history.some((e) => e.seq === leaf.seq && e.digest === leaf.digest), JSON.stringify(history));
    for (const path of [`tile/entries/000.p/${checkpoint.size + 1}`, 'tile/entries/000', 'tile/entries/x']) assert.equal((await node.fetch(`/ics/v1/log/devices/${path}`)).status, 404, path);
    assert.equal((await node.fetch('/ics/v1/log/system/tile/entries/000.p/1')).status, 404, 'nor a private domain’s entries');
  });

  it('a private domain’s log does not exist for a caller who may not read it', async () => {
    for (const path of ['/ics/v1/log/system/checkpoint', '/ics/v1/log/system/key', '/ics/v1/log/system/consistency?from=1&to=1', '/ics/v1/log/nowhere/checkpoint']) {
      assert.equal((await node.fetch(path)).status, 404, path);
    }
    assert.equal((await node.fetch('/ics/v1/log/system/checkpoint', { headers: alice })).status, 200);
    const answer = await proofOf(siteDevice.id, alice);
    assert.deepEqual(answer.log.map((p) => p.domain), ['system']);
    verifyLogProof(answer.log[0] as LogProof, await key('system', alice), { id: siteDevice.id, digest: answer.record.digest });
  });

  it('ics log verify checks a saved answer offline: exit 0, and 1 for a tampered one', async () => {
    const answer = await proofOf(first.id);
    await writeFile(join(dir, 'answer.json'), JSON.stringify(answer));
    await writeFile(join(dir, 'devices.vkey'), `${await key('devices')}\n`);
    const good = await ics(['log', 'verify', 'answer.json', '--key', 'devices.vkey'], dir);
    assert.equal(good.code, 0, good.stderr + good.stdout);
    assert.match(good.stdout, /^ok: .* is leaf \d+ of ics\/test-node\/devices/m);
    const tampered = { ...answer, log: answer.log.map((p) => ({ ...p, index: p.index + 1 })) };
    await writeFile(join(dir, 'tampered.json'), JSON.stringify(tampered));
    const bad = await ics(['log', 'verify', 'tampered.json', '--key', 'devices.vkey'], dir);
    assert.equal(bad.code, 1, bad.stderr + bad.stdout);
    assert.match(bad.stdout, /REFUSED: devices: log proof refused/);
    const noKey = await ics(['log', 'verify', 'answer.json'], dir);
    assert.equal(noKey.code, 2);
  });
});
