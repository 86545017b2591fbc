// POST /pks/add: form-encoded keytext (GnuPG's form) and raw key material, through the one
// ingest path; the answer says what was inserted, updated, left unchanged and refused, and
// why; writes that require authentication.
import assert from 'node:assert/strict';
import { armor, certify, reviveRecord } from '../../ics/record/index.ts';
import { acmeDeviceId, device, minutesAgo, siteDeviceId } from '../policy/helpers.ts';
import { basic, keytextForm, startNode, type TestNode, tableAuthenticator } from './helpers.ts';

interface Answer {
  counts: { inserted: number; updated: number; unchanged: number; rejected: number };
  results: Array<{
    index: number;
    id?: string;
    action: string;
    domains?: string[];
    signaturesAdded?: number;
    dropped?: { count: number; byReason: Record<string, number>; sample: Array<{ issuer: string | null; reason: string }> };
    error?: { code: string; message: string };
  }>;
}

const json = (init: RequestInit): RequestInit => ({ ...init, headers: { ...(init.headers as Record<string, string>), accept: 'application/json' } });

describe('hkp: /pks/add', () => {
  let node: TestNode;

  beforeEach(async () => {
    node = await startNode();
  });

  afterEach(() => node.close());

  it('inserts a form-encoded keytext and says so in text', async () => {
    const { f } = node;
    const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const res = await node.fetch('/pks/add', keytextForm(armor('publicKey', record.bytes)));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^inserted 1, updated 0, unchanged 0, rejected 0$/m);
    assert.ok(text.includes(`inserted ${record.id.toUpperCase()} (devices)`));
    assert.equal((await node.store.get(record.id))?.digest, record.digest);
    const [event] = await node.store.history(record.id);
    assert.equal(event?.source, 'hkp');
    assert.equal(event?.origin, '127.0.0.1');
  });

  it('takes raw application/pgp-keys (binary and armored), and answers JSON when asked', async () => {
    const { f } = node;
    const a = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const b = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    for (const body of [Buffer.from(a.bytes), armor('publicKey', b.bytes)]) {
      const res = await node.fetch('/pks/add', json({ method: 'POST', headers: { 'content-type': 'application/pgp-keys' }, body }));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as Answer;
      assert.deepEqual(answer.counts, { inserted: 1, updated: 0, unchanged: 0, rejected: 0 });
    }
  });

  it('judges each record of a keyring alone: inserted, updated, unchanged, rejected with reasons', async () => {
    const { f } = node;
    const known = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    const same = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    await node.ingest.submit(known.bytes, { source: 'cli' });
    await node.ingest.submit(same.bytes, { source: 'cli' });
    const stolen = await certify(known, f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' }, { created: minutesAgo(1) });
    const fresh = await device(acmeDeviceId(), [
      { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
      { issuer: f.stranger, role: 'integrator' },
    ]);
    const nobody = await device('urn:cm4it:device:elsewhere.example:x:1', [{ issuer: f.stranger, role: 'manufacturer' }]);
    const keyring = [fresh, stolen, same, nobody].map((r) => armor('publicKey', r.bytes)).join('\n');
    const res = await node.fetch('/pks/add', json(keytextForm(keyring)));
    assert.equal(res.status, 200);
    const answer = (await res.json()) as Answer;
    assert.deepEqual(answer.counts, { inserted: 1, updated: 1, unchanged: 1, rejected: 1 });
    const [ins, upd, unch, rej] = answer.results;
    assert.equal(ins?.action, 'inserted');
    assert.deepEqual(ins?.dropped?.byReason, { UNKNOWN_ISSUER: 1 });
    assert.equal(ins?.dropped?.sample[0]?.issuer, f.stranger.record.id);
    assert.equal(upd?.action, 'updated');
    assert.equal(upd?.signaturesAdded, 1);
    assert.equal(unch?.action, 'unchanged');
    assert.equal(rej?.action, 'rejected');
    assert.equal(rej?.error?.code, 'POLICY_REJECTED');
    const stored = await reviveRecord((await node.store.get(known.id))?.bytes as Uint8Array);
    assert.equal(node.engine.verdict(stored).status, 'stolen');
  });

  it('when every record is refused, answers with the refusal’s status (403 policy, 422 malformed)', async () => {
    const { f } = node;
    const nobody = await device('urn:cm4it:device:elsewhere.example:x:2', [{ issuer: f.manufacturer, role: 'manufacturer' }]);
    const policy = await node.fetch('/pks/add', keytextForm(armor('publicKey', nobody.bytes)));
    assert.equal(policy.status, 403);
    assert.match(await policy.text(), /rejected: POLICY_REJECTED: /);
    const bad = armor('publicKey', nobody.bytes).replace(/^([A-Za-z0-9+/]{10})/m, 'AAAAAAAAAA');
    const malformed = await node.fetch('/pks/add', keytextForm(bad));
    assert.equal(malformed.status, 422);
    assert.equal((await node.store.stats()).records, 0);
  });

  it('400 for a missing, empty or repeated keytext or no body; 415 for other content types', async () => {
    const cases: Array<[RequestInit, number]> = [
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'text=abc' }, 400],
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'keytext=' }, 400],
      [{ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'keytext=a&keytext=b' }, 400],
      [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"keytext":"x"}' }, 415],
      [{ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' }, 415],
      [{ method: 'POST' }, 400],
    ];
    for (const [init, status] of cases) {
      const res = await node.fetch('/pks/add', init);
      assert.equal(res.status, status, String(init.body));
    }
    assert.equal((await node.store.stats()).records, 0);
  });

  it('a GET on /pks/add is 404 (only POST exists)', async () => {
    assert.equal((await node.fetch('/pks/add')).status, 404);
  });

  describe('writes that require authentication', () => {
    let locked: TestNode;

    beforeEach(async () => {
      locked = await startNode({
        init: { writesRequireAuth: true },
        authenticator: tableAuthenticator({ maker: { password: 'pw-maker', write: true }, reader: { password: 'pw-reader', write: false } }),
      });
    });

    afterEach(() => locked.close());

    it('401 without credentials or with wrong ones, 403 for a user without write rights, 200 for a writer', async () => {
      const { f } = locked;
      const record = await device(siteDeviceId(), [
        { issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' },
        { issuer: f.integrator, role: 'integrator' },
      ]);
      const form = keytextForm(armor('publicKey', record.bytes));
      const anonymous = await locked.fetch('/pks/add', form);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
      const wrong = await locked.fetch('/pks/add', { ...form, headers: { ...(form.headers as object), authorization: basic('maker', 'nope') } });
      assert.equal(wrong.status, 401);
      const reader = await locked.fetch('/pks/add', { ...form, headers: { ...(form.headers as object), authorization: basic('reader', 'pw-reader') } });
      assert.equal(reader.status, 403);
      assert.equal((await locked.store.stats()).records, 0);
      const writer = await locked.fetch('/pks/add', { ...form, headers: { ...(form.headers as object), authorization: basic('maker', 'pw-maker') } });
      assert.equal(writer.status, 200);
      const [event] = await locked.store.history(record.id);
      assert.equal(event?.origin, 'maker@127.0.0.1');
    });
  });
});
