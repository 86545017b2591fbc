// Limits of the HKP plugin (/pks/*), each with the resource it bounds; the host's own and
// the shared read limits are in ics/http/limits.ts.

/** Longest `search=` value: the longest user ID a record may hold (DEFAULT_LIMITS.maxUserIdBytes). */
export const MAX_SEARCH_LENGTH = 1024;

/** Candidates whose user IDs are read (records revived) to confirm a text search. */
export const MAX_CONFIRMED_CANDIDATES = 2000;
