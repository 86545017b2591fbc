// Attack: a trusted issuer's key is compromised. Its owner revokes it with GnuPG and sends
// the revocation to the node (`gpg --send-keys`, i.e. /pks/add). From then on the node must
// stop trusting what the key vouched for — without a restart, and without the HKP verdict
// cache answering from before the revocation.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { Registry } from 'prom-client';
import type { HttpServer as HkpServer } from '../../ics/http/index.ts';
import { Ingest } from '../../ics/ingest/index.ts';
import { type IssuerWatch, watchIssuerRecords } from '../../ics/node/issuers.ts';
import { PolicyEngine, policyFromObject } from '../../ics/policy/index.ts';
import { armor, certify, generateIdentity, type KeyRecord, type NewIdentity } from '../../ics/record/index.ts';
import { openLevelStore } from '../../ics/store/level/index.ts';
import type { RecordStore } from '../../ics/store/types.ts';
import { createHkpServer, DEFAULT_INIT, keytextForm, silent } from '../hkp/helpers.ts';
import { acmeDeviceId, device, minutesAgo, policyFixture, policyObject, testPolicyDraft } from '../policy/helpers.ts';

interface VerdictBody {
  trusted: boolean;
  reasons: Array<{ code: string; severity: string; message: string; issuer: string | null }>;
}

describe('security/issuer-revocation (a revoked issuer key stops counting at once)', () => {
  let dir: string;
  let store: RecordStore;
  let server: HkpServer;
  let watch: IssuerWatch;
  let url: string;
  let maker: NewIdentity;
  let cam: KeyRecord;
  const slot: { engine?: PolicyEngine } = {};

  before(async () => {
    const f = await policyFixture();
    maker = await generateIdentity({ userId: 'urn:cm4it:org:compromised-maker.example', created: minutesAgo(180) });
    cam = await device(acmeDeviceId(), [{ issuer: maker, role: 'manufacturer', status: 'in-use' }]);
    const doc = policyObject(testPolicyDraft(f)) as {
      trust: { issuers: Array<Record<string, unknown>>; afterIssuerRevocation?: string };
      domains: unknown[];
    };
    // The manufacturer's key is trusted without a key file: it comes from the store.
    (doc.trust.issuers[0] as Record<string, unknown>).fingerprint = maker.record.id;
    doc.trust.afterIssuerRevocation = 'drop-all';
    // Organisation keys are stored too, so that an issuer can send its own key (and revocation).
    doc.domains.push({ name: 'issuers', select: { kinds: ['org'] }, read: 'public' });
    slot.engine = await PolicyEngine.create(policyFromObject(doc, 'revocation.yaml'), [maker.record]);

    dir = await mkdtemp(join(tmpdir(), 'ics-issuer-revocation-'));
    store = await openLevelStore({ path: join(dir, 'db') });
    const engine = () => slot.engine as PolicyEngine;
    const ingest = new Ingest({}, { store, policy: { issuerRing: () => engine().issuerRing(), admit: (r) => engine().admit(r) }, logger: silent });
    watch = watchIssuerRecords(store, { get: engine, set: (e) => (slot.engine = e) }, silent);
    server = createHkpServer(DEFAULT_INIT, { store, policy: engine, ingest, logger: silent, metrics: { registry: new Registry() } });
    url = (await server.start()).url;
  });

  after(async () => {
    watch.stop();
    await server.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const verdict = async (id: string): Promise<VerdictBody> => {
    const res = await fetch(`${url}/ics/v1/verify/${id}`);
    assert.equal(res.status, 200);
    return (await res.json()) as VerdictBody;
  };

  it('the revocation sent with /pks/add turns the already-stored device untrusted without a restart', async () => {
    assert.equal((await fetch(`${url}/pks/add`, keytextForm(armor('publicKey', maker.record.bytes)))).status, 200);
    assert.equal((await fetch(`${url}/pks/add`, keytextForm(armor('publicKey', cam.bytes)))).status, 200);
    await watch.settled();
    const before = await verdict(cam.id);
    assert.equal(before.trusted, true, JSON.stringify(before.reasons));
    // Asked twice so that the answer is cached for this record version and engine.
    assert.equal((await verdict(cam.id)).trusted, true);

    const engineBefore = slot.engine;
    const { publicKey } = await openpgp.revokeKey({
      key: maker.privateKey,
      reasonForRevocation: { flag: openpgp.enums.reasonForRevocation.keyCompromised, string: 'HSM stolen' },
      date: minutesAgo(30),
    });
    assert.equal((await fetch(`${url}/pks/add`, keytextForm(publicKey))).status, 200);
    await watch.settled();
    assert.notEqual(slot.engine, engineBefore, 'a new engine replaced the old one');
    assert.equal(slot.engine?.issuerState(maker.record.id)?.revocationReason, 'compromised');

    const after = await verdict(cam.id);
    assert.equal(after.trusted, false);
    assert.ok(after.reasons.some((r) => r.code === 'ISSUER_REVOKED' && r.issuer === maker.record.id));
    assert.ok(after.reasons.some((r) => r.code === 'ROLE_MISSING' && r.severity === 'fail'));
  });

  it('a certification the revoked key makes afterwards never counts (runs after the revocation above)', async () => {
    // Made with the stolen key after its revocation: it verifies, so it is stored, but it is no statement.
    const { record } = await generateIdentity({ userId: acmeDeviceId(), created: minutesAgo(20) });
    const late = await certify(record, maker.privateKey, { role: 'manufacturer', status: 'in-use' }, { created: minutesAgo(10) });
    assert.equal((await fetch(`${url}/pks/add`, keytextForm(armor('publicKey', late.bytes)))).status, 200);
    const v = await verdict(late.id);
    assert.equal(v.trusted, false);
    assert.ok(v.reasons.some((r) => r.code === 'ISSUER_REVOKED' && /made after its issuer's key was revoked/.test(r.message)), JSON.stringify(v.reasons));
  });
});
