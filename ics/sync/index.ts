// The sync component (DESIGN §6): public surface. Protocol: docs/sync-protocol.md.
export { DEFAULT_LIMITS, PROTOCOL, PROTOCOL_VERSION, type SyncLimits } from './consts.ts';
export { loadOrCreatePeerKey, type PeerKey, peerIdOfKeyFile } from './keys.ts';
export { registerSyncMetrics } from './metrics.ts';
export { createSyncService } from './service.ts';
export { DEFAULT_BATCH_SIZE, DEFAULT_LISTEN, DEFAULT_MAX_MESSAGE_BYTES } from './settings.ts';
export type * from './types.ts';
