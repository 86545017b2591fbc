// An MQTT broker beside the node (mosquitto 2.0): its configuration, and what the node does
// for it when it revokes certificates. Depends on enrol/ (certificate identities) and the
// store's types; node/ wires it in, the CLI writes the broker's files.
export { type CommandAnswer, DynsecControl, type DynsecControlOptions } from './dynsec.ts';
export { type BrokerAction, BrokerLink, type BrokerLinkOptions, type BrokerOutcome, signalBroker } from './link.ts';
export {
  aclText,
  CONTROL_ACCOUNT,
  DYNSEC_PLUGIN_FILE,
  DEVICE_TOPIC_PATTERN,
  dynsecConfig,
  findDynsecPlugin,
  DYNSEC_TOPIC,
  GATEWAY_ACCOUNT,
  type Listen,
  mosquittoConfig,
  type MosquittoFiles,
  type MosquittoOptions,
  newPassword,
  parseListen,
} from './mosquitto.ts';
