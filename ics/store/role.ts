// The sync role (DESIGN §8): of the processes that share one store, exactly one runs sync
// (listens for peers, dials them, reconciles). A store that several processes may share
// offers a contender for the role (`RecordStore.syncRole`); a store that only one process can
// open (LevelDB, memory) does not, and its process always holds the role (`soleSyncRole`).
// The store decides who holds the role; what the holder runs is the node's business.

/** What a contender tells its owner. Both are called in order, never re-entrantly. */
export interface SyncRoleEvents {
  /** The role was taken (true) or lost (false). A process that lost it MUST stop its sync at once. */
  changed(held: boolean): void;
  /** Taking or keeping the role failed for a reason other than another process holding it (the database is away). */
  failed?(error: Error): void;
}

/** One process's claim on the sync role. */
export interface SyncRole {
  /** True while this process holds the role. */
  readonly held: boolean;
  /** True when other processes may contend for the role (a shared store). */
  readonly shared: boolean;
  /**
   * Tries to take the role now; resolves after that first attempt (with `held` telling how it
   * went, and `changed(true)` already called when it was taken). Then keeps trying while
   * another process holds it, and keeps checking the hold while it is held.
   */
  start(events: SyncRoleEvents): Promise<void>;
  /** Gives the role up (without calling `changed`) and stops trying. */
  stop(): Promise<void>;
}

/** The role of a process that alone can open its store: held from start to stop. */
export function soleSyncRole(): SyncRole {
  let held = false;
  return {
    get held() {
      return held;
    },
    shared: false,
    async start(events) {
      held = true;
      events.changed(true);
    },
    async stop() {
      held = false;
    },
  };
}
