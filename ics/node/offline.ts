// The part of the node's public surface that offline commands need: config, data directory,
// store and policy (openNode builds no front end). Unlike index.ts it loads no HTTP, LDAP,
// sync, EST or CA code, so that `ics show` does not pay for them.
export { type ConfigLoadOptions, checkConfig, type LevelStoreConfig, loadConfig, type NodeConfig, type NodeRole, type StoreConfig } from './config.ts';
export { DataDir, type InitOptions as DataDirInitOptions, type InitResult as DataDirInitResult, initDataDir, NODE_ROLES, type ServingNode } from './datadir.ts';
export { createLogger, type Logger } from './logger.ts';
export { type IcsNode, type OpenNodeOptions, openNode, withDataDirHeld } from './node.ts';
