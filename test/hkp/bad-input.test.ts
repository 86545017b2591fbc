// Bad input over HTTP (issue "Bad input"): missing or repeated parameters, unknown ops,
// oversized bodies refused from their Content-Length before they are read, malformed armor,
// compressed-packet bombs, a key flooded with 10,000 certifications by unknown issuers,
// secret keys, slow clients. Each gets a clear status and code, nothing is stored, and the
// server keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { armor, certify, type KeyRecord } from '../../ics/record/index.ts';
import { framePacket, PacketTag } from '../../ics/record/packets.ts';
import { acmeDeviceId, device, minutesAgo } from '../policy/helpers.ts';
import { seededRandom } from '../helpers/random.ts';
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { capturingLogger, keytextForm, startNode, type TestNode } from './helpers.ts';

interface RawAnswer {
  /** Status of the response, if one came. */
  status: number | undefined;
  text: string;
  /** The server closed the connection. */
  closed: boolean;
  /** Bytes of the request actually written before the answer or the close. */
  written: number;
}

/**
 * Writes `parts` to a raw TCP connection, waiting `gapMs` between them, and stops writing as
 * soon as the server answers or closes. Resolves when the server closes or `giveUpMs` passes.
 */
function rawRequest(port: number, parts: ReadonlyArray<string | Buffer>, options: { gapMs?: number; giveUpMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    let written = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ status: status ? Number(status) : undefined, text, closed, written });
    };
    const giveUp = setTimeout(finish, options.giveUpMs ?? 10_000);
    socket.on('data', (d) => {
      text += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (done || text.length > 0 || socket.destroyed) break;
        written += Buffer.byteLength(part);
        socket.write(part);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
    });
  });
}

/**
 * Certifications by 10,000 different, unknown issuers: copies of one real certification
 * with the issuer's fingerprint (hashed) and key id (unhashed) replaced by random ones.
 * Signatures by unknown issuers are dropped unverified, so they need not verify.
 */
function fakeCertifications(template: Uint8Array, issuer: string, count: number): Buffer[] {
  const fpr = Buffer.from(issuer, 'hex');
  const keyId = fpr.subarray(-8);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const fake = Buffer.from(template);
    const other = randomBytes(20);
    for (let at = fake.indexOf(fpr); at >= 0; at = fake.indexOf(fpr, at + 20)) other.copy(fake, at);
    for (let at = fake.indexOf(keyId); at >= 0; at = fake.indexOf(keyId, at + 8)) other.subarray(-8).copy(fake, at);
    out.push(fake);
  }
  return out;
}

describe('hkp: bad input', function () {
  this.timeout(60_000);
  let node: TestNode;
  let record: KeyRecord;

  before(async () => {
    node = await startNode({ init: { maxBodyBytes: 2 * 1024 * 1024, requestTimeoutSeconds: 1 } });
    record = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
  });

  after(() => node.close());

  afterEach(async () => {
    // The server keeps serving after every bad request.
    const res = await node.fetch('/pks/lookup?op=stats&options=mr');
    assert.equal(res.status, 200);
  });

  let seqBefore = 0;
  beforeEach(async () => {
    seqBefore = (await node.store.stats()).lastSeq;
  });
  const nothingStored = async () => assert.equal((await node.store.stats()).lastSeq, seqBefore, 'nothing was stored');
  const add = (body: string | Uint8Array, type = 'application/pgp-keys') =>
    node.fetch('/pks/add', { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : new Uint8Array(body) });

  describe('parameters', () => {
    it('missing op or search, repeated variables: 400; unknown op: 501', async () => {
      for (const [path, status] of [
        ['/pks/lookup', 400],
        ['/pks/lookup?op=get', 400],
        ['/pks/lookup?op=index&op=index&search=abc', 400],
        ['/pks/lookup?op=index&search=abc&options=mr&options=mr', 400],
        ['/pks/lookup?op=x-delete&search=abc', 501],
        ['/pks/lookup?op=recon', 501],
      ] as const) {
        const res = await node.fetch(path);
        assert.equal(res.status, status, path);
      }
    });

    it('a 0x search that is not hex is 400, like one with the wrong number of digits', async () => {
      for (const search of ['0xZZZZ', '0x', `0x${record.id.slice(0, 39)}q`, '0x0123 4567']) {
        const res = await node.fetch(`/pks/lookup?op=get&options=mr&search=${encodeURIComponent(search)}`);
        assert.equal(res.status, 400, search);
        assert.match(await res.text(), /^BAD_REQUEST: /, search);
      }
    });

    it('a request line or headers beyond 16 KiB: 431, before any handler', async () => {
      const res = await node.fetch(`/pks/lookup?op=index&search=${'a'.repeat(20_000)}`);
      assert.equal(res.status, 431);
    });
  });

  describe('bodies', () => {
    it('an oversized body is refused 413 from its Content-Length, before it is sent', async () => {
      const head = `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/pgp-keys\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`;
      const answer = await rawRequest(node.port, [head, Buffer.alloc(64 * 1024), Buffer.alloc(64 * 1024)], { gapMs: 200, giveUpMs: 5000 });
      assert.equal(answer.status, 413);
      assert.ok(answer.written < 200 * 1024, `the client wrote ${answer.written} bytes before the answer`);
      assert.match(answer.text, /LIMIT_EXCEEDED/);
      await nothingStored();
    });

    it('an oversized chunked body is cut off at the limit: 413', async () => {
      const head = 'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/pgp-keys\r\nTransfer-Encoding: chunked\r\n\r\n';
      const chunk = Buffer.concat([Buffer.from(`${(256 * 1024).toString(16)}\r\n`), Buffer.alloc(256 * 1024), Buffer.from('\r\n')]);
      const parts = [head, ...Array.from({ length: 40 }, () => chunk)];
      const answer = await rawRequest(node.port, parts, { gapMs: 20, giveUpMs: 10_000 });
      assert.equal(answer.status, 413);
      assert.ok(answer.written < 4 * 1024 * 1024, `the client wrote ${answer.written} bytes before the answer`);
      await nothingStored();
    });

    it('malformed armor (bad base64, corrupted data, no end line, not OpenPGP), garbage, truncation: 422', async () => {
      const good = armor('publicKey', record.bytes);
      const badBase64 = good.replace(/^([A-Za-z0-9+/]{8})/m, '!!!!!!!!');
      // Valid base64 that decodes to other bytes: the packets no longer parse or verify.
      const corrupted = good.replace(/^([A-Za-z0-9+/]{20})/m, 'AAAAAAAAAAAAAAAAAAAA');
      const noEnd = good.slice(0, good.indexOf('-----END'));
      for (const [label, text] of [
        ['bad base64', badBase64],
        ['corrupted', corrupted],
        ['no end line', noEnd],
        ['not OpenPGP', 'hello, keyserver'],
      ] as const) {
        const res = await node.fetch('/pks/add', keytextForm(text));
        assert.equal(res.status, 422, label);
        assert.match(await res.text(), /RECORD_MALFORMED|SIGNATURE_INVALID|ALGORITHM_UNSUPPORTED/, label);
      }
      const binary = await add(seededRandom(512).bytes(512)); // the same garbage on every run
      assert.equal(binary.status, 422);
      const truncated = await add(Buffer.from(record.bytes).subarray(0, record.bytes.length - 7));
      assert.equal(truncated.status, 422);
      await nothingStored();
    });

    it('armor whose CRC-24 line is wrong but whose data is intact is read (RFC 9580 §6.1: the checksum is advisory)', async () => {
      const other = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      const lines = armor('publicKey', other.bytes).split('\n');
      const crcAt = lines.findIndex((l) => l.startsWith('='));
      const badCrc = [...lines.slice(0, crcAt), '=AAAA', ...lines.slice(crcAt + 1)].join('\n');
      const res = await node.fetch('/pks/add', keytextForm(badCrc));
      assert.equal(res.status, 200);
      assert.equal((await node.store.get(other.id))?.digest, other.digest);
    });

    it('a compressed-packet bomb: 422 PACKET_NOT_ALLOWED at once, nothing inflated', async () => {
      const bomb = framePacket(PacketTag.compressedData, Buffer.concat([Buffer.from([1]), deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 })]));
      assert.ok(bomb.length < 128 * 1024, 'the bomb itself is small');
      const before = process.memoryUsage().rss;
      for (const res of [await add(Buffer.from(bomb)), await node.fetch('/pks/add', keytextForm(armor('message', bomb)))]) {
        assert.equal(res.status, 422);
        const text = await res.text();
        assert.ok(text.includes('PACKET_NOT_ALLOWED'), text);
      }
      // After a key, too: the frame scan refuses it before anything is parsed.
      const inside = await add(Buffer.concat([record.bytes, bomb]));
      assert.equal(inside.status, 422);
      assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'nothing was inflated');
      await nothingStored();
    });

    it('secret key material: 422 PACKET_NOT_ALLOWED, never stored', async () => {
      const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'secret <s@example.org>' }], format: 'object' });
      const res = await node.fetch('/pks/add', keytextForm(privateKey.armor()));
      assert.equal(res.status, 422);
      assert.match(await res.text(), /rejected: PACKET_NOT_ALLOWED: /);
      await nothingStored();
    });
  });

  describe('certificate flooding (CVE-2019-13050)', () => {
    let template: Uint8Array;
    let target: KeyRecord;

    before(async () => {
      target = await device(acmeDeviceId(), [{ issuer: node.f.manufacturer, role: 'manufacturer', status: 'in-use' }]);
      const signed = await certify(target, node.f.stranger.privateKey, { role: 'integrator' }, { created: minutesAgo(5) });
      const sig = signed.userIds[0]?.signatures.find((s) => s.issuer === node.f.stranger.record.id);
      assert.ok(sig);
      template = sig.packet;
    });

    // How fast these are refused is measured by the benchmarks, not asserted here.
    it('a key with 10,000 certifications by unknown issuers: refused (413), nothing stored', async () => {
      const flood = Buffer.concat([target.bytes, ...fakeCertifications(template, node.f.stranger.record.id, 10_000)]);
      assert.ok(flood.length < 2 * 1024 * 1024, `flood of ${flood.length} bytes fits the body limit`);
      const res = await add(flood);
      assert.equal(res.status, 413);
      assert.match(await res.text(), /LIMIT_EXCEEDED/);
      await nothingStored();
    });

    it('a key with 3,000 of them (under the packet cap): stored without any, each reported', async () => {
      const flood = Buffer.concat([target.bytes, ...fakeCertifications(template, node.f.stranger.record.id, 3000)]);
      const res = await node.fetch('/pks/add', { method: 'POST', headers: { 'content-type': 'application/pgp-keys', accept: 'application/json' }, body: flood });
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { results: Array<{ action: string; dropped: { count: number; byReason: Record<string, number>; sample: unknown[] } }> };
      assert.equal(answer.results[0]?.action, 'inserted');
      assert.deepEqual(answer.results[0]?.dropped.byReason, { UNKNOWN_ISSUER: 3000 });
      assert.equal(answer.results[0]?.dropped.sample.length, 10, 'the answer lists a sample, not 3,000 lines');
      assert.equal((await node.store.get(target.id))?.digest, target.digest, 'the stored record holds none of the flood');
    });
  });

  describe('logging', () => {
    it("a client's unknown op (501) is logged at warn without a stack; our own 500 at error with one", async () => {
      const { logger, lines } = capturingLogger();
      const store = await createMemoryStore();
      // A store that fails the way a broken disk would: our fault, not the client's.
      const failing = new Proxy(store, {
        get(target, name, receiver) {
          if (name === 'stats' || name === 'syncSummaries') return () => Promise.reject(new Error('disk on fire'));
          const value = Reflect.get(target, name, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const logged = await startNode({ logger, store: failing });
      try {
        const unknownOp = await logged.fetch('/pks/lookup?op=x-delete&search=abc');
        assert.equal(unknownOp.status, 501);
        const refused = lines.filter((l) => l.code === 'NOT_IMPLEMENTED');
        assert.equal(refused.length, 1, JSON.stringify(lines));
        assert.equal(refused[0]?.level, 40, 'warn');
        assert.equal(refused[0]?.status, 501);
        assert.ok(!JSON.stringify(refused[0]).includes('stack'), 'no stack trace for a client error');
        assert.match(String(refused[0]?.reason), /unknown op "x-delete"/);

        const bad = await logged.fetch('/pks/lookup?op=get&search=0xZZZZ');
        assert.equal(bad.status, 400);
        const badLine = lines.find((l) => l.code === 'BAD_REQUEST');
        assert.equal(badLine?.level, 20, 'other client errors stay at debug');
        assert.ok(!JSON.stringify(badLine).includes('stack'));

        const broken = await logged.fetch('/pks/lookup?op=stats');
        assert.equal(broken.status, 500);
        assert.equal(await broken.text(), 'INTERNAL: internal error\n', 'nothing of the failure reaches the client');
        const failed = lines.find((l) => l.code === 'INTERNAL');
        assert.equal(failed?.level, 50, 'error');
        assert.match(String((failed?.err as { stack?: string } | undefined)?.stack), /disk on fire/);
      } finally {
        await logged.close();
      }
    });
  });

  describe('slow clients', () => {
    it('headers trickling in past the request timeout: 408 and the connection closed', async () => {
      const parts = ['GET /pks/lookup?op=stats HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: a\r\n`)];
      const answer = await rawRequest(node.port, parts, { gapMs: 100, giveUpMs: 8000 });
      assert.ok(answer.closed, 'the server closed the connection');
      assert.ok(answer.status === 408 || answer.status === undefined, answer.text);
      assert.ok(answer.written < parts.join('').length, 'cut off before the client had sent its whole request');
    });

    it('a body trickling in past the request timeout: 408, closed, nothing stored; others are served meanwhile', async () => {
      const body = `keytext=${encodeURIComponent(armor('publicKey', record.bytes))}`;
      const head = `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`;
      let slowEnded = false;
      const slow = rawRequest(node.port, [head, ...body.match(/.{1,16}/gs)!], { gapMs: 100, giveUpMs: 8000 }).finally(() => {
        slowEnded = true;
      });
      // While it hangs, a normal client is answered.
      assert.equal((await node.fetch('/pks/lookup?op=stats&options=mr')).status, 200);
      assert.equal(slowEnded, false, 'answered while the slow request was still hanging');
      const answer = await slow;
      assert.ok(answer.closed);
      assert.ok(answer.status === 408 || answer.status === undefined, answer.text);
      assert.ok(answer.written < head.length + body.length, 'cut off before the client had sent its whole body');
      assert.equal(await node.store.get(record.id), undefined);
    });

    it('an idle connection that never sends a request is closed', async () => {
      const answer = await rawRequest(node.port, [], { giveUpMs: 8000 });
      assert.ok(answer.closed, 'closed by the server before the client gave up');
    });
  });
});
