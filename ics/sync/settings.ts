// SyncInit resolved against its defaults and frozen: the tuning every part of the service reads.
import { DEFAULT_LIMITS, type SyncLimits } from './consts.ts';
import type { SyncInit } from './types.ts';

/** Defaults of SyncInit (the node config's `sync` section has the same). */
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0';
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BATCH_SIZE = 256;

export interface Settings {
  readonly listen: string;
  readonly maxMessageBytes: number;
  readonly batchSize: number;
  readonly announce: boolean;
  readonly limits: SyncLimits;
}

export function settingsOf(init: SyncInit): Settings {
  return Object.freeze({
    listen: init.listen ?? DEFAULT_LISTEN,
    maxMessageBytes: init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    batchSize: init.batchSize ?? DEFAULT_BATCH_SIZE,
    announce: init.announce ?? true,
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...init.limits }),
  });
}
