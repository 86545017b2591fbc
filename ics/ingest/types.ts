// The ingest path's types: its tuning (IngestInit), what it needs (IngestComponents), what a
// submission carries and what it is answered, and the two narrow interfaces its users name —
// RecordSubmitter for one record at a time (LDAP, the JSON API, sync peers), BatchSubmitter
// for keyrings and bulk files (HKP /pks/add, `ics device import`).
import type { Logger } from 'pino';
import type { IcsErrorCode } from '../errors.ts';
import type { IdentityRecord, IssuerKeyring, RecordLimits } from '../record/index.ts';
import type { ChangeSource, RecordReader, RecordWriter } from '../store/types.ts';

/** What ingest needs of the policy engine. */
export interface IngestPolicy {
  issuerRing(): IssuerKeyring;
  admit(
    record: IdentityRecord,
    now?: Date,
  ): { record: IdentityRecord; domains: string[]; dropped: ReadonlyArray<{ issuer: string; reason: string; detail: string }> };
  issuerName?(fingerprint: string): string | undefined;
}

export interface IngestComponents {
  /** Reads the stored version a merge starts from; writes the merged one by compare-and-set. */
  readonly store: RecordReader & RecordWriter;
  readonly policy: IngestPolicy;
  readonly logger: Logger;
}

export interface IngestInit {
  readonly limits?: RecordLimits;
  /** Attempts when a concurrent writer changed the record between read and write. */
  readonly maxAttempts?: number;
}

export interface IngestContext {
  readonly source: ChangeSource;
  /** Peer id, client address or local user: for the event log, never secret. */
  readonly origin?: string;
  /**
   * The submitter's read rights, for submissions by clients (HKP, JSON API, LDAP). A record
   * is written only when it lands in a domain the submitter may read, and the answer names
   * only such domains. A stored record the submitter may not read is answered as if it were
   * absent: its existence, digest and domains are not the submitter's to learn. Absent: the
   * local operator (CLI) or a peer whose rights sync has already checked.
   */
  readonly readable?: (domain: string) => boolean;
  /** Awaited between slices of a record's parsing (see ParseOptions.pace): how a front end keeps bulk from starving its reads. */
  readonly pace?: () => Promise<unknown>;
}

export interface DroppedReport {
  readonly issuer: string | undefined;
  readonly reason: string;
  readonly detail: string;
}

export interface IngestOutcome {
  readonly id: string;
  readonly kind: IdentityRecord['kind'];
  readonly action: 'inserted' | 'updated' | 'unchanged';
  readonly digest: string;
  readonly domains: readonly string[];
  readonly signaturesAdded: number;
  /** Signatures in the input that were not stored, with why (flood defence, policy). */
  readonly dropped: readonly DroppedReport[];
  readonly seq: number | undefined;
}

export interface BatchItemResult {
  readonly index: number;
  readonly outcome?: IngestOutcome;
  /** Why the record was refused: the IcsError's code and the message a client may see. */
  readonly error?: { readonly code: IcsErrorCode; readonly message: string };
}

export interface BatchOutcome {
  readonly results: readonly BatchItemResult[];
  readonly counts: { inserted: number; updated: number; unchanged: number; rejected: number };
}

export interface BatchOptions {
  /** Records parsed and merged at once; default DEFAULT_BATCH_CONCURRENCY (ingest.ts). */
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Ingests one record. */
export interface RecordSubmitter {
  /** One record (armored or binary); throws IcsError when it is refused. */
  submit(input: Uint8Array | string, context: IngestContext): Promise<IngestOutcome>;
}

/** Ingests every record of a keyring or bulk file. */
export interface BatchSubmitter {
  /** Each record is judged alone: a refused one is reported in its result, not thrown. */
  submitBatch(input: Uint8Array | string, context: IngestContext, options?: BatchOptions): Promise<BatchOutcome>;
}
