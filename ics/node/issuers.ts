// Keeps the policy engine's view of trusted issuers' keys current without a restart: when
// a trusted issuer's key record is written to the store (a revocation sent with
// `gpg --send-keys`, a new expiry arriving by sync), an engine with that record merged in
// replaces the current one. Engines are immutable, so every answer cached per engine
// (HKP verdicts, LDAP entries) is dropped with the old one.
import type { PolicyEngine } from '../policy/index.ts';
import { reviveRecord } from '../record/index.ts';
import type { EventLog, RecordReader } from '../store/types.ts';
import type { Logger } from './logger.ts';

export interface EngineSlot {
  get(): PolicyEngine;
  set(engine: PolicyEngine): void;
}

export interface IssuerWatch {
  /**
   * Runs `task` after every engine change queued before it, and before any queued after:
   * policy reloads go through here, so a reload and an issuer refresh never overwrite
   * each other's engine.
   */
  serialize<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves once the engine reflects every issuer record written so far. */
  settled(): Promise<void>;
  stop(): void;
}

export function watchIssuerRecords(store: RecordReader & EventLog, slot: EngineSlot, logger: Logger): IssuerWatch {
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  };

  const refresh = async (id: string) => {
    const stored = await store.get(id);
    const current = slot.get();
    if (!stored || !current.trusts(id)) return;
    const record = await reviveRecord(stored.bytes);
    if (record.type !== 'key') return;
    const before = current.issuerState(id);
    const wasMissing = !current.issuerRing().has(id);
    const next = await current.withIssuerRecords([record]);
    slot.set(next);
    const after = next.issuerState(id);
    const name = next.issuerName(id);
    if (wasMissing && next.issuerRing().has(id)) logger.info({ issuer: name, fingerprint: id }, 'trusted issuer key now known from the store');
    if (after?.revokedAt && before?.revokedAt?.getTime() !== after.revokedAt.getTime()) {
      logger.warn({ issuer: name, fingerprint: id, revokedAt: after.revokedAt, reason: after.revocationReason }, 'trusted issuer key revoked');
    }
    if (after?.expiresAt?.getTime() !== before?.expiresAt?.getTime()) {
      logger.info({ issuer: name, fingerprint: id, expiresAt: after?.expiresAt ?? null }, 'trusted issuer key expiry changed');
    }
  };

  const unsubscribe = store.subscribe((event) => {
    // The listener runs in the store's commit path: only a map lookup here, the rest queued.
    if (event.kind === 'code' || !slot.get().trusts(event.id)) return;
    serialize(() => refresh(event.id)).catch((error: unknown) =>
      logger.error({ err: error, fingerprint: event.id }, 'refreshing a trusted issuer key failed; its previous state stays in force'),
    );
  });

  return {
    serialize,
    settled: () => serialize(async () => undefined),
    stop: unsubscribe,
  };
}
