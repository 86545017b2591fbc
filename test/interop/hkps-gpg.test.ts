// Stock GnuPG 2.2 as an HKPS client: the node serves TLS with a leaf certificate issued by a
// throwaway CA (openssl); gpg --send-keys and --recv-keys over hkps:// succeed when
// dirmngr is given that CA (`hkp-cacert` in the GnuPG home's dirmngr.conf), and dirmngr
// refuses the server — certificate issuer unknown — when it is not. dirmngr's reason is read
// from its log file (gpg itself only says "General error").
//
// Why the keyserver is `hkps://localhost.:PORT` (absolute name, trailing dot): dirmngr
// (http_verify_server_credentials in dirmngr/http.c) rejects every peer whose expected host
// name contains no dot ("TLS verification of peer failed: hostname missing"). With
// hkps://localhost the name is "localhost"; with hkps://127.0.0.1 dirmngr replaces the
// address by its reverse name, again "localhost". "localhost." has a dot, is resolved from
// /etc/hosts by dirmngr's built-in resolver (its default; `standard-resolver` would send it
// to getaddrinfo, which does not know it, and these tests would fail with "Unknown host"),
// and GnuTLS compares it literally, so the certificate names DNS:localhost. as well.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { armor, certify, generateIdentity, type KeyRecord } from '../../ics/record/index.ts';
import { GnuPG, requireGpg, signatureRecords } from '../helpers/gpg.ts';
import { requireTool } from '../helpers/tools.ts';
import { publicEngine, startNode, type TestNode } from '../hkp/helpers.ts';
import { minutesAgo, policyFixture } from '../policy/helpers.ts';

const exec = promisify(execFile);
const KEYSERVER_OPTIONS = ['--keyserver-options', 'no-self-sigs-only,no-import-clean'];
const keyId = (fingerprint: string) => fingerprint.slice(-16);
/** dirmngr's words (GnuTLS's status text) for a chain that does not end at a trusted CA. */
const ISSUER_UNKNOWN = /TLS verification of peer failed: The certificate is NOT trusted\. The certificate issuer is unknown\./;

/** A throwaway CA in `dir` (ca.pem); returns its certificate file. */
async function makeCa(dir: string, name: string): Promise<string> {
  await exec('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'),
  ]);
  return join(dir, 'ca.pem');
}

/** A server certificate for localhost. / localhost / 127.0.0.1 issued by the CA in `dir`. */
async function makeLeaf(dir: string): Promise<{ cert: Buffer; key: Buffer }> {
  await exec('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=localhost', '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.csr'),
  ]);
  await writeFile(
    join(dir, 'leaf.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost.,DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  await exec('openssl', [
    'x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', '2', '-days', '2', '-extfile', join(dir, 'leaf.ext'), '-out', join(dir, 'leaf.pem'),
  ]);
  return { cert: await readFile(join(dir, 'leaf.pem')), key: await readFile(join(dir, 'leaf.key')) };
}

describe('interop/hkps-gpg (GnuPG 2.2 against the HKP server over TLS)', function () {
  this.timeout(120_000);

  let dir: string | undefined;
  let caFile: string;
  let strangerCaFile: string;
  let node: TestNode | undefined;
  let device: KeyRecord;
  const homes: GnuPG[] = [];

  /**
   * A GnuPG home pointed at the node over hkps, whose dirmngr logs to a file and trusts
   * `cacert` (no `hkp-cacert` at all when undefined); `log` reads dirmngr's log.
   */
  const home = async (cacert: string | undefined) => {
    const gpg = await GnuPG.create(['--keyserver', `hkps://localhost.:${node?.port}`, ...KEYSERVER_OPTIONS]);
    homes.push(gpg);
    const logFile = join(gpg.home, 'dirmngr.log');
    // disable-ipv6: the node listens on 127.0.0.1 only; no detour through ::1 if /etc/hosts maps localhost there too.
    const conf = [`log-file ${logFile}`, 'disable-ipv6', ...(cacert ? [`hkp-cacert ${cacert}`] : []), ''];
    await writeFile(join(gpg.home, 'dirmngr.conf'), conf.join('\n'));
    const log = async () => readFile(logFile, 'utf8').catch(() => '');
    /** gpg.run, failing with dirmngr's log (gpg alone only says "General error"). */
    const run = (args: readonly string[]) =>
      gpg.run(args).catch(async (error: Error) => {
        throw new Error(`${error.message}\ndirmngr log:\n${await log()}`, { cause: error });
      });
    return { gpg, log, run };
  };

  before(async function () {
    requireGpg({ keyserver: true });
    requireTool('openssl', 'openssl');
    dir = await mkdtemp(join(tmpdir(), 'ics-hkps-'));
    await mkdir(join(dir, 'ca'));
    await mkdir(join(dir, 'stranger'));
    caFile = await makeCa(join(dir, 'ca'), 'ICS test CA');
    strangerCaFile = await makeCa(join(dir, 'stranger'), 'ICS test CA');
    const tls = await makeLeaf(join(dir, 'ca'));
    const f = await policyFixture();
    node = await startNode({ engine: await publicEngine(f), init: { tls } });
    assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { record } = await generateIdentity({ userId: 'urn:cm4it:device:acme.example:cam-3:SN515151', created: minutesAgo(24 * 60) });
    device = await certify(record, f.manufacturer.privateKey, { role: 'manufacturer', status: 'in-use', metadata: { model: 'cam-3' } }, { created: minutesAgo(60) });
  });

  after(async () => {
    for (const gpg of homes) await gpg.dispose();
    await node?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without the CA dirmngr refuses the server: certificate issuer unknown, nothing sent or received', async () => {
    // No hkp-cacert at all, and a different CA with the same name: the same refusal.
    for (const cacert of [undefined, strangerCaFile]) {
      const { gpg, log } = await home(cacert);
      await gpg.import(armor('publicKey', device.bytes));
      await assert.rejects(gpg.run(['--send-keys', device.id.toUpperCase()]), /keyserver send failed/);
      const text = await log();
      assert.match(text, ISSUER_UNKNOWN, `dirmngr log (hkp-cacert ${cacert ?? 'none'}):\n${text}`);
      assert.doesNotMatch(text, /hostname (missing|does not match)/, text);
      assert.equal(await node?.store.get(device.id), undefined, 'the node stored nothing');
    }
    const { gpg, log } = await home(undefined);
    await assert.rejects(gpg.run(['--recv-keys', device.id.toUpperCase()]), /keyserver receive failed/);
    assert.match(await log(), ISSUER_UNKNOWN);
    assert.doesNotMatch(await gpg.text(['--list-keys']), new RegExp(device.id, 'i'), 'gpg imported nothing');
  });

  it('with the CA: gpg --send-keys over hkps stores the key on the node', async () => {
    const { gpg, log, run } = await home(caFile);
    await gpg.import(armor('publicKey', device.bytes));
    await run(['--send-keys', device.id.toUpperCase()]);
    assert.equal((await node?.store.get(device.id))?.digest, device.digest);
    const history = (await node?.store.history(device.id)) ?? [];
    assert.deepEqual(history.map((e) => e.source), ['hkp']);
    assert.doesNotMatch(await log(), /TLS verification of peer failed/);
  });

  it('with the CA: gpg --recv-keys over hkps imports the key with its manufacturer certification', async () => {
    const { gpg, log, run } = await home(caFile);
    const { stderr } = await run(['--recv-keys', device.id.toUpperCase()]);
    assert.match(stderr, /imported: 1/);
    const sigs = signatureRecords(await gpg.colons(['--list-sigs', device.id.toUpperCase()]));
    assert.deepEqual(
      sigs.map((s) => s.keyId),
      [keyId(device.id), keyId((node as TestNode).f.manufacturer.record.id)],
    );
    assert.doesNotMatch(await log(), /TLS verification of peer failed/);
  });
});
