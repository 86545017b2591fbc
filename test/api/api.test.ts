// The JSON API: records with history, the verdict, code records (publish a statement with
// detached signatures, add signatures, status, lookup by digest), submissions, node status,
// Prometheus metrics, and input validation.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  armor,
  certify,
  generateIdentity,
  type CodeStatement,
  codeRecordBytes,
  codeStatement,
  type KeyRecord,
  parseKeyRecord,
  signStatement,
} from '../../ics/record/index.ts';
import AjvModule from 'ajv';
import { VERDICT_SCHEMA } from '../../ics/api/index.ts';
import { acmeDeviceId, device, firmware, minutesAgo, policyFixture, siteDeviceId, testEngine } from '../policy/helpers.ts';
import { basic, startNode, type TestNode, tableAuthenticator } from '../hkp/helpers.ts';

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validVerdict = new Ajv({ allErrors: true, strict: false }).compile(VERDICT_SCHEMA);
const assertVerdictShape = (body: unknown) => assert.ok(validVerdict(body), JSON.stringify(validVerdict.errors));

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const post = (body: unknown, type = 'application/json'): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': type },
  body: typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body),
});

describe('hkp: JSON API', () => {
  let node: TestNode;
  let cam: KeyRecord;

  before(async () => {
    const f = await policyFixture();
    // Firmware readable by anyone here, and accepted with the developer's signature alone.
    const engine = await testEngine(f, (d) => {
      d.firmware.read = 'public';
      d.firmware.accept = { requireRoles: ['developer'] };
    });
    // /metrics open to anyone here (it needs credentials by default: test/security/private-figures.test.ts).
    node = await startNode({ engine, init: { metrics: 'public' } });
    cam = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    await node.ingest.submit(cam.bytes, { source: 'cli' });
  });

  after(() => node.close());

  describe('records', () => {
    it('GET /ics/v1/records/{id}: subject, every signature with issuer names, and the armored record', async () => {
      const res = await node.fetch(`/ics/v1/records/${cam.id.toUpperCase()}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        id: string;
        kind: string;
        digest: string;
        domains: string[];
        userIds: string[];
        signatures: Array<{ issuerName: string | null; self: boolean; notations: Array<{ name: string; value: string }>; target: string }>;
        armored: string;
      };
      assert.equal(body.id, cam.id);
      assert.equal(body.kind, 'device');
      assert.equal(body.digest, cam.digest);
      assert.deepEqual(body.domains, ['devices']);
      assert.deepEqual(body.userIds, [cam.userIds[0]?.userId]);
      const third = body.signatures.filter((s) => !s.self);
      assert.equal(third.length, 1);
      assert.equal(third[0]?.issuerName, 'acme');
      assert.equal(third[0]?.target, 'userId');
      assert.ok(third[0]?.notations.some((n) => n.name === 'status@cm4it.org' && n.value === 'in-use'));
      assert.equal((await parseKeyRecord(body.armored, { issuers: node.f.ring })).record.digest, cam.digest);
    });

    it('GET /ics/v1/records/{id}/history: one event per accepted change, oldest first', async () => {
      const updated = await certify(cam, node.f.manufacturer.privateKey, { role: 'manufacturer', status: 'inactive' }, { created: minutesAgo(3) });
      await node.ingest.submit(updated.bytes, { source: 'cli' });
      const body = (await (await node.fetch(`/ics/v1/records/${cam.id}/history`)).json()) as {
        events: Array<{ seq: number; action: string; signaturesAdded: number }>;
      };
      assert.deepEqual(
        body.events.map((e) => [e.action, e.signaturesAdded]),
        [
          ['insert', 2],
          ['update', 1],
        ],
      );
      assert.ok((body.events[0]?.seq ?? 0) < (body.events[1]?.seq ?? 0));
    });

    it('POST /ics/v1/records takes a keyring and answers JSON', async () => {
      const a = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      const b = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      const res = await node.fetch('/ics/v1/records', post(Buffer.concat([a.bytes, b.bytes]), 'application/octet-stream'));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { counts: Record<string, number>; results: Array<{ id: string; action: string }> };
      assert.deepEqual(answer.counts, { inserted: 2, updated: 0, unchanged: 0, rejected: 0 });
      assert.deepEqual(
        answer.results.map((r) => r.id),
        [a.id, b.id],
      );
    });

    it('400 for malformed ids and for unknown query variables; 404 for unknown records', async () => {
      for (const path of [
        `/ics/v1/records/${cam.id.slice(1)}`,
        '/ics/v1/records/sha256:xyz',
        `/ics/v1/verify/0x${cam.id.slice(0, 39)}z`,
        '/ics/v1/verify/0xZZZZ',
        `/ics/v1/verify/${cam.id.slice(-8)}`,
        `/ics/v1/records/${cam.id.slice(0, 16)}/history/`,
      ]) {
        const res = await node.fetch(path);
        assert.equal(res.status, path.endsWith('/') ? 404 : 400, path);
        if (!path.endsWith('/')) assert.equal(((await res.json()) as ErrorBody).error.code, 'BAD_REQUEST', path);
      }
      assert.equal((await node.fetch(`/ics/v1/verify/${cam.id}?now=1`)).status, 400);
      // Not an id's form: a user ID that no record holds.
      for (const path of [`/ics/v1/verify/${'0'.repeat(40)}`, `/ics/v1/verify/${cam.id}z`, `/ics/v1/records/${encodeURIComponent('urn:cm4it:device:nobody')}`]) {
        const missing = await node.fetch(path);
        assert.equal(missing.status, 404, path);
        assert.equal(((await missing.json()) as ErrorBody).error.code, 'NOT_FOUND');
      }
      assert.equal((await node.fetch(`/ics/v1/verify/${'a'.repeat(2000)}`)).status, 414, 'longer than any user ID');
    });
  });

  describe('GET /ics/v1/verify/{id}: the gateway’s question', () => {
    it('answers trusted with the status, who set it, roles, endorsements and reasons', async () => {
      const f = node.f;
      let record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      record = await certify(record, f.certifier.privateKey, { role: 'certifier', metadata: { endorsement: 'iec-62443-4-2' }, deny: ['video-recording'] });
      await node.ingest.submit(record.bytes, { source: 'cli' });
      const res = await node.fetch(`/ics/v1/verify/${record.id}`);
      assert.equal(res.status, 200);
      const v = (await res.json()) as {
        trusted: boolean;
        status: string;
        statusSetBy: { issuerName: string; role: string };
        roles: Array<{ role: string; issuerName: string }>;
        endorsements: Array<{ issuerName: string; metadata: Record<string, string> }>;
        authorizations: { deny: string[] };
        reasons: Array<{ code: string; severity: string }>;
        domains: string[];
        digest: string;
      };
      assert.equal(v.trusted, true);
      assert.equal(v.status, 'in-use');
      assert.deepEqual([v.statusSetBy.issuerName, v.statusSetBy.role], ['acme', 'manufacturer']);
      assert.deepEqual(v.roles.map((r) => [r.role, r.issuerName]).sort(), [
        ['certifier', 'notified-body'],
        ['manufacturer', 'acme'],
      ]);
      assert.deepEqual(v.endorsements[0]?.metadata, { endorsement: 'iec-62443-4-2' });
      assert.deepEqual(v.authorizations.deny, ['video-recording']);
      assert.ok(v.reasons.some((r) => r.code === 'STATUS_TRUSTED' && r.severity === 'ok'));
      assert.deepEqual(v.domains, ['devices']);
      assert.equal(v.digest, record.digest);
      assertVerdictShape(v);
    });

    it('is exact over time: an answer made before a certification expires is not served after it', async () => {
      const f = node.f;
      const { record: bare } = await generateIdentity({ userId: acmeDeviceId(), created: minutesAgo(10) });
      const created = new Date(Date.now() - 1000);
      const record = await certify(bare, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use' }, { created, expiresInSeconds: 3 });
      await node.ingest.submit(record.bytes, { source: 'cli' });
      const first = (await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { trusted: boolean; checkedAt: string; validUntil: string };
      assert.equal(first.trusted, true);
      assert.equal(first.validUntil, new Date(Math.floor(created.getTime() / 1000) * 1000 + 3000).toISOString(), 'the answer says when it stops holding');
      const again = (await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { checkedAt: string };
      assert.equal(again.checkedAt, first.checkedAt, 'served from the answer made first');
      await new Promise((r) => setTimeout(r, created.getTime() + 3000 - Date.now() + 100));
      const later = (await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { trusted: boolean; checkedAt: string; reasons: Array<{ code: string }> };
      assert.equal(later.trusted, false);
      assert.ok(later.reasons.some((r) => r.code === 'CERTIFICATION_EXPIRED'));
      assert.ok(later.checkedAt > first.checkedAt, 'evaluated again once it expired');
    });

    it('follows a policy reload at once (the engine is part of what an answer depends on)', async () => {
      const record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      await node.ingest.submit(record.bytes, { source: 'cli' });
      assert.equal(((await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { trusted: boolean }).trusted, true);
      const previous = node.engine;
      node.engine = await testEngine(node.f, (d) => {
        d.firmware.read = 'public';
        d.firmware.accept = { requireRoles: ['developer'] };
        d.devices.verdict = { requiredRoles: ['manufacturer', 'certifier'] };
      });
      try {
        const v = (await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { trusted: boolean; reasons: Array<{ code: string }> };
        assert.equal(v.trusted, false);
        assert.ok(v.reasons.some((r) => r.code === 'ROLE_MISSING'));
      } finally {
        node.engine = previous;
      }
    });

    it('answers untrusted (200, with the failing reason) once the device is reported stolen', async () => {
      const f = node.f;
      const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      const stolen = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'stolen' }, { created: minutesAgo(1) });
      await node.ingest.submit(stolen.bytes, { source: 'cli' });
      const v = (await (await node.fetch(`/ics/v1/verify/${record.id}`)).json()) as { trusted: boolean; status: string; reasons: Array<{ code: string; severity: string }> };
      assert.equal(v.trusted, false);
      assert.equal(v.status, 'stolen');
      assert.ok(v.reasons.some((r) => r.code === 'STATUS_UNTRUSTED' && r.severity === 'fail'));
      assertVerdictShape(v);
    });
  });

  describe('code records', () => {
    let statement: CodeStatement;
    let codeId: string;
    const digest = createHash('sha256').update('firmware image 4.0.1').digest('hex');

    before(() => {
      statement = codeStatement('acme-cam-fw', '4.0.1', { sha256: digest });
    });

    it('publishes a statement with an armored detached signature (201), then adds a base64 one (200)', async () => {
      const f = node.f;
      const released = await signStatement(statement, f.developer.privateKey, { role: 'developer', status: 'released' }, { created: minutesAgo(20) });
      const res = await node.fetch('/ics/v1/code', post({ statement, signatures: [armor('signature', released)] }));
      assert.equal(res.status, 201);
      const outcome = (await res.json()) as { id: string; action: string; domains: string[] };
      assert.equal(outcome.action, 'inserted');
      assert.match(outcome.id, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(outcome.domains, ['firmware']);
      codeId = outcome.id;
      const endorsement = await signStatement(statement, f.certifier.privateKey, { role: 'certifier' }, { created: minutesAgo(15) });
      const added = await node.fetch(`/ics/v1/code/${codeId}/signatures`, post({ signatures: [Buffer.from(endorsement).toString('base64')] }));
      assert.equal(added.status, 200);
      const second = (await added.json()) as { action: string; signaturesAdded: number };
      assert.deepEqual([second.action, second.signaturesAdded], ['updated', 1]);
    });

    it('status: GET /ics/v1/code/{id} shows the statement and the verdict; a deprecation changes it', async () => {
      assert.ok(codeId, 'depends on the previous test');
      const before = (await (await node.fetch(`/ics/v1/code/${codeId}`)).json()) as { statement: CodeStatement; verdict: { status: string; trusted: boolean } };
      assert.deepEqual(before.statement, statement);
      assert.deepEqual([before.verdict.status, before.verdict.trusted], ['released', true]);
      assertVerdictShape(before.verdict);
      const deprecated = await signStatement(statement, node.f.developer.privateKey, { role: 'developer', status: 'deprecated' }, { created: minutesAgo(1) });
      await node.fetch(`/ics/v1/code/${codeId}/signatures`, post({ signatures: [armor('signature', deprecated)] }));
      const after = (await (await node.fetch(`/ics/v1/code/${codeId}`)).json()) as { verdict: { status: string; trusted: boolean } };
      assert.deepEqual([after.verdict.status, after.verdict.trusted], ['deprecated', false]);
    });

    it('finds code records by the artifact digest', async () => {
      assert.ok(codeId, 'depends on the previous tests');
      const res = await node.fetch(`/ics/v1/code?sha256=${digest.toUpperCase()}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { results: Array<{ id: string; status: string }> };
      assert.deepEqual(
        body.results.map((r) => [r.id, r.status]),
        [[codeId, 'deprecated']],
      );
      assert.equal((await node.fetch(`/ics/v1/code?sha256=${'0'.repeat(64)}`)).status, 404);
      assert.equal((await node.fetch('/ics/v1/code')).status, 400);
      assert.equal((await node.fetch(`/ics/v1/code?sha256=${digest}&sha512=${'0'.repeat(128)}`)).status, 400);
    });

    it('accepts whole code records, binary and armored', async () => {
      const f = node.f;
      for (const [version, encode, type] of [
        ['4.0.2', (b: Uint8Array) => Buffer.from(b), 'application/octet-stream'],
        ['4.0.3', (b: Uint8Array) => armor('message', b), 'text/plain'],
      ] as const) {
        const s = codeStatement('acme-cam-fw', version, { sha256: digest });
        const sig = await signStatement(s, f.developer.privateKey, { role: 'developer', status: 'released' }, { created: minutesAgo(5) });
        const res = await node.fetch('/ics/v1/code', post(encode(codeRecordBytes(s, [sig])), type));
        assert.equal(res.status, 201, version);
      }
    });

    it('refuses keys, bad signatures, non-schema statements and untrusted signers', async () => {
      const f = node.f;
      const key = await node.fetch('/ics/v1/code', post(Buffer.from(cam.bytes), 'application/octet-stream'));
      assert.equal(key.status, 400);
      const other = codeStatement('acme-cam-fw', '9.9.9', { sha256: digest });
      const wrong = await signStatement(other, f.developer.privateKey, { role: 'developer', status: 'released' });
      const invalid = await node.fetch('/ics/v1/code', post({ statement, signatures: [armor('signature', wrong)] }));
      assert.equal(invalid.status, 422);
      assert.equal(((await invalid.json()) as ErrorBody).error.code, 'SIGNATURE_INVALID');
      const extra = await node.fetch('/ics/v1/code', post({ statement: { ...statement, extra: 1 }, signatures: ['AAAA'] }));
      assert.equal(extra.status, 400);
      const notSig = await node.fetch('/ics/v1/code', post({ statement, signatures: ['not base64 !'] }));
      assert.equal(notSig.status, 400);
      const stranger = await signStatement(codeStatement('acme-cam-fw', '5.0.0', { sha256: digest }), f.stranger.privateKey, {
        role: 'developer',
        status: 'released',
      });
      const untrusted = await node.fetch('/ics/v1/code', post({ statement: codeStatement('acme-cam-fw', '5.0.0', { sha256: digest }), signatures: [armor('signature', stranger)] }));
      assert.equal(untrusted.status, 403);
      assert.equal(((await untrusted.json()) as ErrorBody).error.code, 'POLICY_REJECTED');
      const malformedJson = await node.fetch('/ics/v1/code', post('{"statement":', 'application/json'));
      assert.equal(malformedJson.status, 400);
      const unknownCode = await node.fetch(`/ics/v1/code/sha256:${'1'.repeat(64)}/signatures`, post({ signatures: ['AAAA'] }));
      assert.equal(unknownCode.status, 404);
    });
  });

  describe('node', () => {
    it('GET /ics/v1/status: name, role, version, store figures, domains readable by the caller', async () => {
      const body = (await (await node.fetch('/ics/v1/status')).json()) as {
        name: string;
        role: string;
        version: string;
        store: { records?: number; lastSeq?: number; domains: Record<string, number> };
        policy: { domains: Array<{ name: string; readable: boolean; public: boolean }>; missingIssuerKeys: string[] };
        http: { tls: boolean; caller: string };
      };
      assert.deepEqual([body.name, body.role, body.version], ['test-node', 'default', '0.0.0-test']);
      // Figures of the readable domains only: node-wide totals would count `system` too.
      assert.deepEqual(Object.keys(body.store.domains), ['devices', 'firmware']);
      assert.ok((body.store.domains.devices ?? 0) >= 1);
      assert.equal(body.store.records, undefined);
      assert.equal(body.store.lastSeq, undefined);
      assert.deepEqual(
        body.policy.domains.map((d) => [d.name, d.readable]),
        [
          ['devices', true],
          ['firmware', true],
        ],
        'a private domain is not even named to a caller who may not read it',
      );
      assert.deepEqual([body.http.tls, body.http.caller], [false, 'anonymous']);
    });

    it('GET /metrics: Prometheus text with requests, latencies, submissions, rejections by code, store changes', async () => {
      await node.fetch('/pks/lookup?op=nope');
      const res = await node.fetch('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const pattern of [
        /^ics_http_requests_total\{route="\/ics\/v1\/verify\/:id",method="GET",status="200"\} \d+$/m,
        /^ics_http_request_duration_seconds_bucket\{le="0\.01",route="\/ics\/v1\/verify\/:id",method="GET"\} \d+$/m,
        /^ics_hkp_records_submitted_total\{via="api",action="inserted"\} \d+$/m,
        /^ics_hkp_rejections_total\{code="NOT_IMPLEMENTED"\} 1$/m,
        /^ics_hkp_rejections_total\{code="SIGNATURE_INVALID"\} \d+$/m,
        /^ics_store_changes_total\{action="insert",source="api"\} \d+$/m,
        /^ics_store_records\{kind="device"\} \d+$/m,
        /^ics_node_info\{name="test-node",role="default",version="0\.0\.0-test"\} 1$/m,
      ]) {
        assert.match(text, pattern);
      }
    });

    it('unknown endpoints are 404 in JSON', async () => {
      const res = await node.fetch('/ics/v2/whatever');
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as ErrorBody).error.code, 'NOT_FOUND');
    });
  });
});

// GET /ics/v1/verify/{ref}, /records/{ref} and /records/{ref}/history take what `ics verify`
// takes (the store's resolver): fingerprint, 0x fingerprint, long key id, code id, or the
// exact user ID, URL-encoded. Read rules hold: what the caller may not read does not exist for
// it, neither as an answer nor as the second record that makes a reference ambiguous.
describe('hkp: JSON API record references', () => {
  let node: TestNode;
  /** Public (`devices`), and a twin with the same user ID readable only by authenticated clients (`system`). */
  let shared: string;
  let publicTwin: KeyRecord;
  let privateTwin: KeyRecord;
  let service: KeyRecord;
  let codeId: string;
  const alice = { headers: { authorization: basic('alice', 'correct horse') } };
  const verify = (ref: string, init?: RequestInit) => node.fetch(`/ics/v1/verify/${encodeURIComponent(ref)}`, init);

  before(async () => {
    const f = await policyFixture();
    const engine = await testEngine(f, (d) => {
      d.firmware.read = 'public';
      d.firmware.accept = { requireRoles: ['developer'] };
    });
    node = await startNode({ engine, authenticator: tableAuthenticator({ alice: { password: 'correct horse', write: false } }) });
    shared = siteDeviceId();
    publicTwin = await device(shared, [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
    privateTwin = await device(shared, [{ issuer: f.integrator, role: 'integrator' }]);
    service = await device(`urn:cm4it:service:acme.example:site-a:broker-${publicTwin.id.slice(0, 8)}`, [{ issuer: f.integrator, role: 'integrator' }]);
    const code = await firmware(f, 'acme-ref-fw');
    codeId = code.id;
    for (const r of [publicTwin, privateTwin, service, code]) await node.ingest.submit(r.bytes, { source: 'cli' });
    assert.deepEqual((await node.store.get(publicTwin.id))?.domains, ['devices']);
    assert.deepEqual((await node.store.get(privateTwin.id))?.domains, ['system']);
    assert.deepEqual((await node.store.get(service.id))?.domains, ['system']);
  });

  after(() => node.close());

  it('every form of reference names the same record', async () => {
    const id = publicTwin.id;
    for (const ref of [id, id.toUpperCase(), `0x${id}`, `0X${id.toUpperCase()}`, id.slice(-16), `0x${id.slice(-16).toUpperCase()}`, ` ${id} `]) {
      const res = await verify(ref);
      assert.equal(res.status, 200, ref);
      assert.equal(((await res.json()) as { id: string }).id, id, ref);
    }
    for (const ref of [codeId, codeId.toUpperCase().replace('SHA256:', 'sha256:')]) {
      const res = await verify(ref);
      assert.equal(res.status, 200, ref);
      assert.equal(((await res.json()) as { id: string }).id, codeId, ref);
    }
  });

  it('an exact user ID names the one record holding it that the caller may read: verify, record and history', async () => {
    const ref = encodeURIComponent(shared);
    const verdict = await node.fetch(`/ics/v1/verify/${ref}`);
    assert.equal(verdict.status, 200);
    assert.equal(((await verdict.json()) as { id: string }).id, publicTwin.id, 'the private twin is neither found nor counted');
    const record = await node.fetch(`/ics/v1/records/${ref}`);
    assert.equal(record.status, 200);
    assert.equal(((await record.json()) as { id: string }).id, publicTwin.id);
    const history = await node.fetch(`/ics/v1/records/${ref}/history`);
    assert.equal(history.status, 200);
    const events = (await history.json()) as { id: string; events: Array<{ action: string }> };
    assert.equal(events.id, publicTwin.id);
    assert.deepEqual(events.events.map((e) => e.action), ['insert']);
    // Unencoded colons are fine in a path too.
    assert.equal((await node.fetch(`/ics/v1/verify/${shared}`)).status, 200);
  });

  it('a user ID that two readable records hold is 400 naming the problem and the candidates', async () => {
    const res = await verify(shared, alice);
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, 'BAD_REQUEST');
    assert.match(body.error.message, /names several records; use the fingerprint/);
    assert.deepEqual(((body.error.details?.candidates ?? []) as string[]).slice().sort(), [publicTwin.id, privateTwin.id].sort());
    // The fingerprint still names each of them.
    for (const twin of [publicTwin, privateTwin]) {
      const one = await verify(twin.id, alice);
      assert.equal(one.status, 200);
      assert.equal(((await one.json()) as { id: string }).id, twin.id);
    }
  });

  it('a record in no domain the caller may read is 404 by every reference, like one that does not exist', async () => {
    const userId = service.userIds[0]?.userId ?? '';
    for (const ref of [userId, service.id, `0x${service.id}`, service.id.slice(-16)]) {
      const hidden = await verify(ref);
      assert.equal(hidden.status, 404, ref);
      assert.equal(((await hidden.json()) as ErrorBody).error.code, 'NOT_FOUND');
      assert.equal((await node.fetch(`/ics/v1/records/${encodeURIComponent(ref)}/history`)).status, 404, ref);
      const seen = await verify(ref, alice);
      assert.equal(seen.status, 200, ref);
      assert.equal(((await seen.json()) as { id: string }).id, service.id);
    }
    const unknown = await verify(`${userId}-nobody`);
    assert.equal(unknown.status, 404);
    // The user ID is matched exactly: case and all, no prefix.
    assert.equal((await verify(userId.toUpperCase(), alice)).status, 404);
    assert.equal((await verify(userId.slice(0, -1), alice)).status, 404);
  });
});
