// The HKP plugin's tuning (`HkpInit`): what it adds to the host it is served by.

export interface HkpInit {
  /** Most keys one lookup answers (index, vindex, get by text). */
  readonly resultLimit: number;
  /** When true, /pks/add needs HTTP basic auth by a user with write rights. */
  readonly writesRequireAuth: boolean;
}
