// The issuer keys a parser may verify third-party signatures with. Signatures by keys
// not in the ring are dropped unverified, which is what keeps signature flooding cheap
// to refuse (CVE-2019-13050): no cryptography is spent on unknown issuers.
import type { VerifyingKey } from './keys.ts';
import { primaryVerifyingKey } from './primary-key.ts';
import type { KeyRecord } from './types.ts';

export class IssuerKeyring {
  readonly #byFingerprint = new Map<string, VerifyingKey>();
  readonly #byKeyId = new Map<string, VerifyingKey[]>();

  /** A ring holding the primary keys of the given (already verified) key records. */
  static async fromRecords(records: Iterable<KeyRecord>): Promise<IssuerKeyring> {
    const ring = new IssuerKeyring();
    for (const record of records) await ring.addRecord(record);
    return ring;
  }

  async addRecord(record: KeyRecord): Promise<void> {
    this.add(await primaryVerifyingKey(record));
  }

  add(key: VerifyingKey): void {
    if (this.#byFingerprint.has(key.fingerprint)) return;
    this.#byFingerprint.set(key.fingerprint, key);
    const keyId = key.fingerprint.slice(-16);
    const list = this.#byKeyId.get(keyId);
    if (list) list.push(key);
    else this.#byKeyId.set(keyId, [key]);
  }

  has(fingerprint: string): boolean {
    return this.#byFingerprint.has(fingerprint);
  }

  /** Candidate keys for a signature naming `fingerprint` (preferred) or only `keyId`. */
  candidates(fingerprint: string | undefined, keyId: string | undefined): VerifyingKey[] {
    if (fingerprint) {
      const key = this.#byFingerprint.get(fingerprint);
      return key ? [key] : [];
    }
    return keyId ? (this.#byKeyId.get(keyId) ?? []) : [];
  }

  get size(): number {
    return this.#byFingerprint.size;
  }
}
