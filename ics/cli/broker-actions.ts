// What `ics broker init` does (its definition is in broker-commands.ts): the files a mosquitto
// broker beside the node runs with (broker/mosquitto.ts), a TLS certificate for it from the
// node's CA, and the node config's `broker` section, so that the node signals the broker after
// each new CRL and ends revoked devices' sessions. Loads enrol/ and broker/, never the front ends.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { aclText, CONTROL_ACCOUNT, dynsecConfig, findDynsecPlugin, GATEWAY_ACCOUNT, mosquittoConfig, newPassword, parseListen } from '../broker/index.ts';
import { issueServerCertificate } from '../enrol/index.ts';
import { IcsError } from '../errors.ts';
import { unlockNodeAuthority } from '../node/ca.ts';
import { checkConfig, DataDir, loadConfig } from '../node/offline.ts';
import { CRL_FILE } from '../node/revocation.ts';
import { print } from './context.ts';
import { refuseExisting, writeNewFile } from './files.ts';
import type { GlobalOptions } from './options.ts';

export interface BrokerInitFlags extends GlobalOptions {
  dir?: string;
  devices: string;
  control: string;
  host: string[];
  plugin?: string;
  user?: string;
}

/** The broker's files, by role, under its directory. */
const FILES = {
  config: 'mosquitto.conf',
  cafile: 'ca-chain.pem',
  certfile: 'server.pem',
  keyfile: 'server.key',
  aclFile: 'acl',
  dynsecFile: 'dynamic-security.json',
  pidFile: 'mosquitto.pid',
  controlPassword: `${CONTROL_ACCOUNT}.password`,
  gatewayPassword: `${GATEWAY_ACCOUNT}.password`,
} as const;

async function writeSecret(path: string, text: string): Promise<void> {
  await writeNewFile(path, text);
  await chmod(path, 0o600);
}

export async function brokerInit(flags: BrokerInitFlags): Promise<void> {
  const devices = parseListen(flags.devices, '--devices');
  const control = parseListen(flags.control, '--control');
  const dir = new DataDir(flags.data);
  const config = await loadConfig(dir.configFile);
  if (config.broker) throw new IcsError('BAD_REQUEST', `${dir.configFile} has a broker section already: remove it (and the broker's files) to make new ones`);
  const plugin = flags.plugin ?? (await findDynsecPlugin());
  const brokerDir = resolve(flags.dir ?? dir.resolve('broker'));
  const at = (name: string) => join(brokerDir, name);
  for (const name of Object.values(FILES)) if (name !== FILES.pidFile) await refuseExisting(at(name));
  // The CA signs the broker's certificate; it also proves the passphrase before anything is written.
  const authority = await unlockNodeAuthority(dir, config);
  const server = await issueServerCertificate(authority, [devices.host, ...flags.host]);
  const passwords = { control: newPassword(), gateway: newPassword() };
  await mkdir(brokerDir, { recursive: true, mode: 0o700 });
  await writeNewFile(at(FILES.cafile), authority.chainPem());
  await writeNewFile(at(FILES.certfile), server.cert);
  await writeSecret(at(FILES.keyfile), server.key);
  await writeNewFile(at(FILES.aclFile), aclText());
  await writeSecret(at(FILES.dynsecFile), `${JSON.stringify(dynsecConfig(passwords), null, 2)}\n`);
  await writeSecret(at(FILES.controlPassword), `${passwords.control}\n`);
  await writeSecret(at(FILES.gatewayPassword), `${passwords.gateway}\n`);
  const files = {
    cafile: at(FILES.cafile),
    certfile: at(FILES.certfile),
    keyfile: at(FILES.keyfile),
    crlfile: dir.resolve(CRL_FILE),
    aclFile: at(FILES.aclFile),
    dynsecFile: at(FILES.dynsecFile),
    pidFile: at(FILES.pidFile),
  };
  await writeNewFile(at(FILES.config), mosquittoConfig({ devices, control, files, plugin, ...(flags.user && { user: flags.user }) }));
  const controlHost = control.host.includes(':') ? `[${control.host}]` : control.host;
  const section = {
    pidFile: files.pidFile,
    control: { url: `mqtt://${controlHost}:${control.port}`, username: CONTROL_ACCOUNT, passwordFile: at(FILES.controlPassword) },
  };
  const doc = parseDocument(await readFile(dir.configFile, 'utf8'));
  doc.set('broker', doc.createNode(section));
  checkConfig(doc.toJSON(), dir.configFile);
  await writeFile(dir.configFile, doc.toString());
  const result = { directory: brokerDir, config: at(FILES.config), devices: flags.devices, control: flags.control, crlfile: files.crlfile, certificateNotAfter: server.notAfter, gatewayPasswordFile: at(FILES.gatewayPassword) };
  print(flags, result, () =>
    [
      `wrote a mosquitto configuration to ${brokerDir}`,
      `  devices: mqtts on ${flags.devices}, their ICS operational certificate required (username: its CN, the device URN; topics devices/<urn>/#)`,
      `  control: mqtt on ${flags.control}, accounts ${CONTROL_ACCOUNT} (this node) and ${GATEWAY_ACCOUNT} (password in ${result.gatewayPasswordFile})`,
      `  crlfile: ${files.crlfile} (written by the node; it must exist before the broker starts)`,
      `  broker certificate valid until ${server.notAfter.toISOString()}`,
      `added a broker section to ${dir.configFile}: restart the node to apply it`,
      `start the broker: mosquitto -c ${result.config}`,
    ].join('\n'),
  );
}

