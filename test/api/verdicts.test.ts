// The /ics/v1/verify answers (api/verdicts.ts) come from the policy's verdict cache: one JSON
// body per cached verdict, made again only when the verdict is evaluated again.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { VerdictCache } from '../../ics/api/verdicts.ts';
import { RecordCache } from '../../ics/http/record-cache.ts';
import { Ingest } from '../../ics/ingest/index.ts';
import { PolicyVerdictCache } from '../../ics/policy/index.ts';
import { armor } from '../../ics/record/index.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { acmeDeviceId, device, policyFixture, testEngine } from '../policy/helpers.ts';

describe('api: verdict answers', () => {
  it('answer from the shared verdict cache, once per verdict and engine generation', async () => {
    const f = await policyFixture();
    const engine = await testEngine(f);
    const store = await createMemoryStore();
    try {
      const record = await device(acmeDeviceId(), [{ issuer: f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      await new Ingest({}, { store, policy: engine, logger: pino({ level: 'silent' }) }).submit(armor('publicKey', record.bytes), { source: 'cli' });
      const stored = await store.get(record.id);
      assert.ok(stored);
      const shared = new PolicyVerdictCache(4);
      const answers = new VerdictCache(new RecordCache(), shared);
      const now = new Date();
      const body = await answers.json(stored, engine, now);
      const cached = shared.get(stored, engine, now);
      assert.ok(cached, 'evaluated into the shared cache');
      const json = JSON.parse(body.toString('utf8')) as { trusted: boolean; digest: string; checkedAt: string };
      assert.deepEqual([json.trusted, json.digest, json.checkedAt], [true, stored.digest, cached.checkedAt.toISOString()]);
      assert.equal(await answers.json(stored, engine, new Date(now.getTime() + 1000)), body, 'the same bytes while the verdict holds');
      const reloaded = await testEngine(f);
      const again = await answers.json(stored, reloaded, now);
      assert.notEqual(again, body, 'a new engine evaluates again');
      assert.equal(shared.get(stored, reloaded, now)?.generation, reloaded.generation);
    } finally {
      await store.close();
    }
  });
});
