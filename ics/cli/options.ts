// What the command definitions share: option types, defaults and the value lists named in
// help texts. Loaded by every `ics` run, so it imports nothing that does work: `ics --help`
// and `ics --version` must not load the node, the store or the front ends.
import type { KeyAlgorithm } from '../enrol/index.ts';
import type { NodeRole } from '../node/offline.ts';

// types.ts imports nothing; record/index.ts would load openpgp.
export { ROLES } from '../record/types.ts';

export interface GlobalOptions {
  data: string;
  json?: boolean;
}

export const DEFAULT_DATA_DIR = process.env.ICS_DATA ?? './data';

// Copies of NODE_ROLES (node/) and KEY_ALGORITHMS (enrol/), whose modules are too heavy to
// load for a help text; test/cli/lazy-load.test.ts checks that they are the same lists.
export const NODE_ROLES = ['manufacturer', 'developer', 'maintenance', 'infield', 'default'] as const satisfies readonly NodeRole[];
export const CA_KEY_ALGORITHMS = ['p256', 'ed25519'] as const satisfies readonly KeyAlgorithm[];
