// CA rollover as an operator runs it: the next issuing CA made beside the current one
// (`ics ca init --issuing --next`), signed at the root, installed (`--next`), then swapped in
// (`ics ca rollover`) with the node stopped. After the restart cacerts serves both chains, a
// device holding a certificate of the old CA renews onto the new one, and openssl verifies it.
// An interrupted rollover, run again, finishes.
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { CaGenerations, certificatesOf } from '../../ics/enrol/index.ts';
import { estCall } from '../../ics/est/client.ts';
import { DeviceAgent } from '../../ics/est/device-agent.ts';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { ics, ok } from '../helpers/cli.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { openssl } from './helpers.ts';
import { buildWorld } from './world.ts';

interface Shown {
  subject: string;
  fingerprint: string;
  next?: { role: string; fingerprint?: string };
  previous?: { fingerprint: string };
}

describe('est: CA rollover', function () {
  this.timeout(180_000);
  const tmp = tempDirs('ics-est-rollover-');
  const at = (path: string) => join(tmp.path, path);
  let node: IcsNode | undefined;
  let services: RunningServices | undefined;

  async function start(): Promise<string> {
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: 'off', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    return services.addresses.est ?? '';
  }

  async function stop(): Promise<void> {
    await services?.stop();
    await node?.close();
    services = undefined;
    node = undefined;
  }

  const agent = async (est: string, options: { renewBeforeMs?: number } = {}) =>
    new DeviceAgent({
      server: { url: est, ca: await readFile(at('system-ca.pem'), 'utf8') },
      birth: { cert: await readFile(at('SN4.pem'), 'utf8'), key: await readFile(at('SN4.key.pem'), 'utf8') },
      dir: at('sn4'),
      ...(options.renewBeforeMs !== undefined && { renewBeforeMs: options.renewBeforeMs }),
    });

  before(async () => {
    await tmp.make();
    await buildWorld(tmp.path);
    await mkdir(at('sn4'));
  });

  after(async () => {
    await stop();
    await tmp.clean();
  });

  it('a device enrolled under the old CA renews onto the new one after the rollover; cacerts serves both', async () => {
    let est = await start();
    const first = await (await agent(est)).step();
    assert.equal(first.action, 'enrolled');
    await stop();

    // The next CA: made, signed by the root, installed — the current one untouched.
    const before = JSON.parse((await ok(['ca', 'show', '--data', 'system', '--json'], tmp.path)).stdout) as Shown;
    await ok(['ca', 'init', '--data', 'system', '--issuing', '--next'], tmp.path);
    await ok(['ca', 'sign', 'system/ca/next/ca.csr.pem', '--data', 'root', '--out', 'next-ca.pem'], tmp.path);
    await ok(['ca', 'install', 'next-ca.pem', '--data', 'system', '--next'], tmp.path);
    const prepared = JSON.parse((await ok(['ca', 'show', '--data', 'system', '--json'], tmp.path)).stdout) as Shown;
    assert.equal(prepared.fingerprint, before.fingerprint, 'the current CA still issues');
    assert.equal(prepared.next?.role, 'issuing');

    const rolled = JSON.parse((await ok(['ca', 'rollover', '--data', 'system', '--json'], tmp.path)).stdout) as { current: Shown; previous: Shown };
    assert.equal(rolled.current.fingerprint, prepared.next?.fingerprint);
    assert.equal(rolled.previous.fingerprint, before.fingerprint);
    const again = await ics(['ca', 'rollover', '--data', 'system'], tmp.path);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /BAD_REQUEST: no next CA/);

    est = await start();
    // cacerts: the new issuing CA, the root (once), the previous issuing CA.
    const served = certificatesOf(await estCall({ url: est, ca: await readFile(at('system-ca.pem'), 'utf8') }, 'cacerts'));
    assert.equal(served.length, 3);
    const fingerprints = await Promise.all(served.map(async (c) => Buffer.from(await c.getThumbprint('SHA-256')).toString('hex')));
    assert.ok(fingerprints.includes(before.fingerprint) && fingerprints.includes(rolled.current.fingerprint));

    // The device renews with its old-CA certificate and gets one from the new CA.
    const renewed = await (await agent(est, { renewBeforeMs: 31 * 86_400_000 })).step();
    assert.equal(renewed.action, 'renewed', JSON.stringify(renewed));
    await writeFile(at('new-chain.pem'), await readFile(at('system/ca/chain.pem')));
    const verified = await openssl(['verify', '-CAfile', 'new-chain.pem', 'sn4/operational.pem'], tmp.path);
    assert.equal(verified.stdout.trim(), 'sn4/operational.pem: OK', verified.stderr);
    const issuedBy = await openssl(['x509', '-in', 'sn4/operational.pem', '-noout', '-issuer', '-ext', 'authorityKeyIdentifier'], tmp.path);
    const newSki = await openssl(['x509', '-in', 'system/ca/ca.cert.pem', '-noout', '-ext', 'subjectKeyIdentifier'], tmp.path);
    const keyId = (text: string) => text.split('\n').map((l) => l.trim()).find((l) => /^[0-9A-F]{2}(:[0-9A-F]{2})+$/.test(l.replace(/^keyid:/, '')))?.replace(/^keyid:/, '');
    assert.ok(keyId(issuedBy.stdout));
    assert.equal(keyId(issuedBy.stdout), keyId(newSki.stdout), 'signed by the new CA');
    await stop();
  });

  it('an interrupted rollover finishes when run again', async () => {
    // A second rollover prepared, then interrupted after the first file of the current CA moved.
    await ok(['ca', 'init', '--data', 'system', '--issuing', '--next'], tmp.path);
    await ok(['ca', 'sign', 'system/ca/next/ca.csr.pem', '--data', 'root', '--out', 'next2-ca.pem'], tmp.path);
    await ok(['ca', 'install', 'next2-ca.pem', '--data', 'system', '--next'], tmp.path);
    const generations = new CaGenerations(at('system/ca'));
    const next = (await generations.next.show()).fingerprint;
    const current = (await generations.current.show()).fingerprint;
    const previous = (await generations.previous.show()).fingerprint;
    await mkdir(at('system/ca/retired'));
    await rename(at('system/ca/previous'), at('system/ca/retired/interrupted'));
    await mkdir(at('system/ca/previous.new'));
    await rename(at('system/ca/ca.key.pem'), at('system/ca/previous.new/ca.key.pem'));

    const result = await generations.rollOver();
    assert.equal(result.current.fingerprint, next);
    assert.equal(result.previous.fingerprint, current);
    assert.equal((await new CaGenerations(at('system/ca/retired/interrupted')).current.show()).fingerprint, previous, 'the one before is kept');
    assert.equal(await generations.next.role(), undefined);
  });
});
