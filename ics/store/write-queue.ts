// The one writer of a persistent store (LevelDB, PostgreSQL): record writes and certificate
// writes wait in call order and are committed in groups — one batch or one transaction each —
// and work that must not interleave with a commit (building a bucket index, taking in other
// processes' events) runs between groups. Also the per-domain bucket indexes of the sync set,
// which that work builds.
import type { BucketIndex } from './fingerprint.ts';
import type { CertificateDecision } from './certificate-rules.ts';
import type { CertificateEntry } from './certificates.ts';
import type { ChangeEvent, WriteRequest } from './model.ts';

/** A record write waiting in the queue. */
export interface PendingWrite {
  readonly request: WriteRequest;
  readonly domains: string[];
  resolve(event: ChangeEvent): void;
  reject(error: unknown): void;
}

/** A certificate write waiting in the queue. */
export interface PendingCertificateWrite {
  readonly serial: string;
  readonly decide: CertificateDecision;
  resolve(entry: CertificateEntry): void;
  reject(error: unknown): void;
}

/** Commits one group: at most the queue's group size of each kind, in call order; answers each write. */
export type CommitGroup = (writes: PendingWrite[], certificates: PendingCertificateWrite[]) => Promise<void>;

export class WriteQueue {
  readonly #commit: CommitGroup;
  readonly #groupSize: number;
  readonly #writes: PendingWrite[] = [];
  readonly #certificates: PendingCertificateWrite[] = [];
  readonly #tasks: Array<() => Promise<void>> = [];
  #draining: Promise<void> | undefined;

  constructor(commit: CommitGroup, groupSize: number) {
    this.#commit = commit;
    this.#groupSize = groupSize;
  }

  /** Resolves once the record write is durable, with its event. */
  write(request: WriteRequest, domains: string[]): Promise<ChangeEvent> {
    return new Promise((resolve, reject) => {
      this.#writes.push({ request, domains, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once the certificate write is durable, with the entry as written. */
  certificate(serial: string, decide: CertificateDecision): Promise<CertificateEntry> {
    return new Promise((resolve, reject) => {
      this.#certificates.push({ serial, decide, resolve, reject });
      this.#schedule();
    });
  }

  /** Runs `task` between two commit groups, before the writes issued after this call. */
  task(task: () => Promise<void>): void {
    this.#tasks.push(task);
    this.#schedule();
  }

  /** Resolves once everything queued so far is done (and what is queued meanwhile). */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Starts the writer unless it runs; it drains the queue, a task or a group at a time. */
  #schedule(): void {
    if (this.#draining) return;
    this.#draining = (async () => {
      await null; // let writes issued in the same turn join the first group
      try {
        while (this.#writes.length > 0 || this.#certificates.length > 0 || this.#tasks.length > 0) {
          const task = this.#tasks.shift();
          if (task) await task();
          else await this.#commit(this.#writes.splice(0, this.#groupSize), this.#certificates.splice(0, this.#groupSize));
        }
      } finally {
        this.#draining = undefined; // synchronously after the queue was seen empty
      }
    })();
  }
}

/**
 * Per-domain bucket indexes of the sync set (fingerprint.ts): derived, in memory, built on a
 * domain's first summary request by a writer task (so that no commit interleaves with the
 * scan) and kept in step by every commit after that. Never persisted, so never out of step
 * with the set after a crash.
 */
export class BucketIndexes {
  readonly #queue: WriteQueue;
  readonly #built = new Map<string, BucketIndex>();
  readonly #building = new Map<string, Promise<BucketIndex>>();

  constructor(queue: WriteQueue) {
    this.#queue = queue;
  }

  /** The domain's index, built by `build` (a writer task) when there is none yet. */
  index(domain: string, build: () => Promise<BucketIndex>): Promise<BucketIndex> {
    const built = this.#built.get(domain);
    if (built) return Promise.resolve(built);
    let pending = this.#building.get(domain);
    if (!pending) {
      pending = new Promise<BucketIndex>((resolve, reject) => {
        this.#queue.task(async () => {
          try {
            const index = await build();
            this.#built.set(domain, index);
            resolve(index);
          } catch (error) {
            reject(error);
          } finally {
            this.#building.delete(domain);
          }
        });
      });
      this.#building.set(domain, pending);
    }
    return pending;
  }

  /** The domain's index if built (commits update only those). */
  get(domain: string): BucketIndex | undefined {
    return this.#built.get(domain);
  }

  /** Forgets a domain's index (it is built again when next asked for). */
  delete(domain: string): void {
    this.#built.delete(domain);
  }

  get size(): number {
    return this.#built.size;
  }

  /** The built indexes by domain. */
  built(): ReadonlyMap<string, BucketIndex> {
    return this.#built;
  }

  clear(): void {
    this.#built.clear();
  }
}
