// An MQTT broker that refuses a stolen device, end to end with Debian's mosquitto 2.0: `ics
// broker init` writes its configuration from the system node of test/est/world.ts; devices
// enrol over EST with curl and connect with mosquitto_pub/_sub and their operational
// certificate; a gateway reads their topics. When the device is marked stolen, the node
// revokes its certificate, rewrites the CRL, signals the broker and ends the live session
// through the dynamic-security plugin; the device's next connection is refused.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseDocument } from 'yaml';
import { mosquittoConfig, parseListen, signalBroker } from '../../ics/broker/index.ts';
import { type IcsNode, openNode, type RunningServices, startServices } from '../../ics/node/index.ts';
import { certify, type KeyRecord, reviveRecord } from '../../ics/record/index.ts';
import { ics, ok } from '../helpers/cli.ts';
import { tempDirs } from '../enrol/helpers.ts';
import { enrolWithCurl } from '../est/helpers.ts';
import { buildWorld, deviceUrn } from '../est/world.ts';
import { freePort, mqttClient, startMosquitto, subscriber, type Watched } from './helpers.ts';

describe('broker: mosquitto admits enrolled devices and refuses a stolen one (ics broker init)', function () {
  this.timeout(240_000);
  const tmp = tempDirs('ics-broker-');
  const at = (path: string) => join(tmp.path, path);
  const ids: Record<string, string> = {};
  let node: IcsNode;
  let services: RunningServices;
  let broker: Watched;
  let gateway: Watched;
  let devicePort = 0;
  let controlPort = 0;
  let est = '';
  let hkp = '';
  let gatewayPassword = '';

  const enrol = (serial: string, name: string) =>
    enrolWithCurl({ est, dir: tmp.path, caFile: 'system-ca.pem', urn: deviceUrn(serial), birthCert: `${serial}.pem`, birthKey: `${serial}.key.pem`, name });

  /** mosquitto_pub/_sub arguments of a device connecting with its operational certificate `name`.pem. */
  const asDevice = (name: string) => ['-h', '127.0.0.1', '-p', String(devicePort), '--cafile', 'system-ca.pem', '--cert', `${name}.pem`, '--key', `${name}.key`];

  async function stolen(serial: string): Promise<void> {
    const stored = await node.store.get(ids[serial] as string);
    assert.ok(stored);
    const signed = await certify((await reviveRecord(stored.bytes)) as KeyRecord, await node.issuerKey(), { role: 'maintainer', status: 'stolen' }, { userId: deviceUrn(serial) });
    const outcome = await node.ingest.submit(signed.bytes, { source: 'cli' });
    assert.notEqual(outcome.action, 'rejected');
  }

  before(async () => {
    await tmp.make();
    Object.assign(ids, (await buildWorld(tmp.path)).ids);
    await ok(['key', 'pkcs8', '--key', 'SN1.secret.asc', '--out', 'SN1.key.pem'], tmp.path);
    devicePort = await freePort();
    controlPort = await freePort();
    const asRoot = process.getuid?.() === 0 ? ['--user', 'root'] : []; // mosquitto started as root would drop to its own user
    await ok(['broker', 'init', '--data', 'system', '--devices', `127.0.0.1:${devicePort}`, '--control', `127.0.0.1:${controlPort}`, ...asRoot], tmp.path);
    gatewayPassword = (await readFile(at('system/broker/gateway.password'), 'utf8')).trim();
    await writeFile(at('system/config.yaml'), `${await readFile(at('system/config.yaml'), 'utf8')}hkp:\n  metrics: public\n`);
    node = await openNode(at('system'), { testKeys: 'refuse', logger: pino({ level: 'silent' }) });
    services = await startServices(node, { hkp: '127.0.0.1:0', ldap: 'off', p2p: 'off', est: '127.0.0.1:0' });
    est = services.addresses.est ?? '';
    hkp = services.addresses.hkp ?? '';
    // The node wrote ca/crl.pem at start: the broker's crlfile exists before the broker starts.
    broker = await startMosquitto(at('system/broker/mosquitto.conf'), devicePort, tmp.path);
    gateway = subscriber(['-h', '127.0.0.1', '-p', String(controlPort), '-u', 'gateway', '-P', gatewayPassword, '-t', 'devices/#', '-v', '-d'], tmp.path);
    await gateway.printed(/SUBACK/);
  });

  after(async () => {
    await gateway?.stop();
    await broker?.stop();
    await services?.stop();
    await node?.close();
    await tmp.clean();
  });

  it('writes the broker files (secrets 0600) and the node config\'s broker section; a second init is refused', async () => {
    for (const secret of ['server.key', 'dynamic-security.json', 'ics.password', 'gateway.password']) {
      assert.equal((await stat(at(`system/broker/${secret}`))).mode & 0o077, 0, `${secret} is private`);
    }
    const conf = await readFile(at('system/broker/mosquitto.conf'), 'utf8');
    assert.match(conf, /^require_certificate true$/m);
    assert.match(conf, /^use_identity_as_username true$/m);
    assert.match(conf, new RegExp(`^crlfile ${at('system/ca/crl.pem')}$`, 'm'));
    assert.doesNotMatch(await readFile(at('system/broker/dynamic-security.json'), 'utf8'), new RegExp(gatewayPassword), 'only a hash of the password');
    const section = parseDocument(await readFile(at('system/config.yaml'), 'utf8')).toJSON().broker as { control: { url: string } };
    assert.equal(section.control.url, `mqtt://127.0.0.1:${controlPort}`);
    const again = await ics(['broker', 'init', '--data', 'system', '--dir', 'other-broker'], tmp.path);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /has a broker section already/);
  });

  it('an enrolled device publishes under its own identity with its operational certificate; the gateway receives it', async () => {
    await enrol('SN1', 'sn1');
    const topic = `devices/${deviceUrn('SN1')}/telemetry`;
    const published = await mqttClient('mosquitto_pub', [...asDevice('sn1'), '-t', topic, '-m', 'temperature 21.5', '-q', '1'], tmp.path);
    assert.equal(published.code, 0, published.output);
    await gateway.printed(new RegExp(`${topic} temperature 21\\.5`));
  });

  it('a client without a certificate, or with a birth certificate the broker does not chain, is refused', async () => {
    const anonymous = await mqttClient('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(devicePort), '--cafile', 'system-ca.pem', '-t', 'devices/x', '-m', 'x'], tmp.path);
    assert.notEqual(anonymous.code, 0, anonymous.output);
    // SN4's birth certificate is the manufacturer's: a valid certificate, but not the system CA's.
    const birth = await mqttClient('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(devicePort), '--cafile', 'system-ca.pem', '--cert', 'SN4.pem', '--key', 'SN4.key.pem', '-t', 'devices/x', '-m', 'x'], tmp.path);
    assert.notEqual(birth.code, 0, birth.output);
  });

  it('marked stolen: the live session is ended and the next connection refused, while other devices stay connected', async () => {
    await enrol('SN4', 'sn4');
    const urn = deviceUrn('SN1');
    const live = subscriber([...asDevice('sn1'), '-t', `devices/${urn}/commands`, '-v', '-d', '-i', 'sn1-live'], tmp.path);
    const other = subscriber([...asDevice('sn4'), '-t', `devices/${deviceUrn('SN4')}/commands`, '-v', '-d', '-i', 'sn4-live'], tmp.path);
    try {
      await live.printed(/SUBACK/);
      await other.printed(/SUBACK/);
      const command = await mqttClient('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(controlPort), '-u', 'gateway', '-P', gatewayPassword, '-t', `devices/${urn}/commands`, '-m', 'reboot'], tmp.path);
      assert.equal(command.code, 0, command.output);
      await live.printed(/commands reboot/);

      const markedAt = Date.now();
      await stolen('SN1');
      const exited = await Promise.race([live.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000))]);
      assert.ok(exited, `the stolen device's session was not ended within 20 s:\n${live.output}`);
      const sessionEndedMs = Date.now() - markedAt;
      assert.ok(sessionEndedMs < 20_000);

      const again = await mqttClient('mosquitto_pub', [...asDevice('sn1'), '-t', `devices/${urn}/telemetry`, '-m', 'still here'], tmp.path);
      assert.notEqual(again.code, 0, `the revoked certificate was admitted again: ${again.output}`);
      assert.doesNotMatch(gateway.output, /still here/);

      assert.equal(other.exitCode, undefined, `another device's session was ended too:\n${other.output}`);
      const fine = await mqttClient('mosquitto_pub', [...asDevice('sn4'), '-t', `devices/${deviceUrn('SN4')}/telemetry`, '-m', 'sn4 fine'], tmp.path);
      assert.equal(fine.code, 0, fine.output);
      await gateway.printed(/sn4 fine/);

      const metrics = await (await fetch(`${hkp}/metrics`)).text();
      assert.match(metrics, /ics_broker_actions_total\{action="end-session",outcome="ok"\} 1\b/);
      assert.match(metrics, /ics_broker_actions_total\{action="signal",outcome="ok"\} [1-9]/);
    } finally {
      await live.stop();
      await other.stop();
    }
  });

  it('the node signals only a process named mosquitto: a stale pid file naming another program is refused', async () => {
    await writeFile(at('stale.pid'), `${process.pid}\n`);
    await assert.rejects(signalBroker(at('stale.pid')), /not mosquitto: not signalled/);
    await writeFile(at('garbage.pid'), 'not a pid\n');
    await assert.rejects(signalBroker(at('garbage.pid')), /holds no pid/);
  });

  it('a value that would start a new mosquitto directive is refused; listeners are HOST:PORT', () => {
    assert.throws(() => parseListen('127.0.0.1', '--devices'), /HOST:PORT/);
    assert.deepEqual(parseListen('[::1]:8883', '--devices'), { host: '::1', port: 8883 });
    const files = { cafile: 'a', certfile: 'b', keyfile: 'c', crlfile: 'd\nallow_anonymous true', aclFile: 'e', dynsecFile: 'f', pidFile: 'g' };
    assert.throws(() => mosquittoConfig({ devices: { host: '127.0.0.1', port: 1 }, control: { host: '127.0.0.1', port: 2 }, files, plugin: 'p' }), /cannot be written into mosquitto\.conf/);
  });
});
