// `ics broker init`: a mosquitto broker beside the node that refuses revoked devices (its
// crlfile is the node's CRL) and whose live sessions the node ends (dynamic-security plugin).
// Definitions only: the action loads broker-actions.ts when it runs.
import type { Command } from 'commander';
import type { BrokerInitFlags } from './broker-actions.ts';
import { DEFAULT_DATA_DIR, type GlobalOptions } from './options.ts';

const actions = () => import('./broker-actions.ts');
const collect = (value: string, previous: string[]) => [...previous, value];

export function registerBrokerCommands(program: Command): void {
  const broker = program.command('broker').description('an MQTT broker (mosquitto 2.0) that admits devices by their ICS certificates');

  broker
    .command('init')
    .description("write a mosquitto configuration (TLS certificate from the node's CA, the node's CRL as crlfile, dynamic-security accounts) and the node config's broker section")
    .option('--data <dir>', 'data directory of the node (its CA issues the broker certificate)', DEFAULT_DATA_DIR)
    .option('--dir <dir>', "where the broker's files go (default: <data>/broker)")
    .option('--devices <host:port>', 'the devices\' TLS listener', '127.0.0.1:8883')
    .option('--control <host:port>', 'the password listener for the node and applications (keep it on loopback)', '127.0.0.1:1884')
    .option('--host <name>', 'another name or address of the broker for its certificate (repeatable)', collect, [])
    .option('--plugin <path>', "the dynamic-security plugin (default: where Debian's mosquitto package puts it)")
    .option('--user <name>', 'the user mosquitto runs as when started as root (its default: mosquitto)')
    .option('--json', 'machine-readable output')
    .action(async (flags: BrokerInitFlags & GlobalOptions) => (await actions()).brokerInit(flags));
}
