// The node (DESIGN §9): the wiring that picks implementations, and the listeners it starts.
// Public surface for the CLI, deploy scripts, tests and benches; nothing below node/ imports it.
// Lighter entry points for commands that serve nothing: offline.ts (data directory, store,
// policy) and ca.ts (the node's CA).
export { CA_DIR, caPassphrase, nodeAuthority, unlockNodeAuthority } from './ca.ts';
export { type ConfigLoadOptions, checkConfig, type LevelStoreConfig, loadConfig, type NodeConfig, type NodeRole, type StoreConfig } from './config.ts';
export { DataDir, type InitOptions as DataDirInitOptions, type InitResult as DataDirInitResult, initDataDir, NODE_ROLES, type ServingNode } from './datadir.ts';
export { createLogger, type Logger } from './logger.ts';
export { createMetrics, type MetricsOptions, type NodeMetrics } from './metrics.ts';
export { type IcsNode, type OpenNodeOptions, openNode, withDataDirHeld } from './node.ts';
export { type BoundAddresses, type ListenOverrides, type RunningServices, startServices } from './services.ts';
