-- The ICS store on PostgreSQL, schema version 1: the same data as the LevelDB key spaces
-- (ics/store/level/keys.ts), as tables. Ordered keys are bytea in the shared encodings
-- (ics/store/ids.ts, serials.ts, sync-set.ts): bytea compares byte by byte on every engine,
-- so rows sort as LevelDB keys do, whatever the database's collation. Times are whole ms
-- since the epoch (bigint), as the store's interface hands them out.
--
-- Kept to SQL that CockroachDB and YugabyteDB accept too (docs/postgres.md): no sequences
-- (their values are not gapless), no triggers, no stored procedures.

-- Counters in one place: 'last_seq' (the event log's end; its row lock orders writers) and
-- 'count:<kind>' (records per kind, for stats without a count over the table).
CREATE TABLE ics_meta (
  name text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO ics_meta (name, value) VALUES ('last_seq', 0);

-- Records by encoded id. `doc` is the seq of the record's insert: finders answer oldest first.
-- Domains (here and in events) are a JSON array of strings: one text column that bulk writes
-- can pass as one array parameter.
CREATE TABLE ics_record (
  id_key bytea PRIMARY KEY,
  id text NOT NULL,
  doc bigint NOT NULL,
  kind text NOT NULL,
  bytes bytea NOT NULL,
  digest text NOT NULL,
  domains text NOT NULL,
  content_time bigint NOT NULL,
  updated bigint NOT NULL,
  seq bigint NOT NULL
);
CREATE INDEX ics_record_by_kind ON ics_record (kind, id_key);

-- Domain membership, listed in id order.
CREATE TABLE ics_record_domain (
  domain text NOT NULL,
  id_key bytea NOT NULL,
  PRIMARY KEY (domain, id_key)
);

-- What records are found by (indexing.ts): class 1 key id, 2 fingerprint, 3 user-ID token.
-- Terms are UTF-8 bytes, so that a prefix search is a byte range.
CREATE TABLE ics_term (
  class smallint NOT NULL,
  term bytea NOT NULL,
  doc bigint NOT NULL,
  id text NOT NULL,
  PRIMARY KEY (class, term, doc)
);
CREATE INDEX ics_term_by_doc ON ics_term (doc);

-- The append-only event log. The previous version's content time and domains are kept beside
-- each event so that another process can move its sync-set buckets from the event alone.
CREATE TABLE ics_event (
  seq bigint PRIMARY KEY,
  at bigint NOT NULL,
  id text NOT NULL,
  kind text NOT NULL,
  action text NOT NULL,
  source text NOT NULL,
  origin text,
  digest text NOT NULL,
  previous_digest text,
  signatures_added integer NOT NULL,
  summary text NOT NULL,
  domains text NOT NULL,
  content_time bigint NOT NULL,
  previous_content_time bigint,
  previous_domains text
);
CREATE INDEX ics_event_by_id ON ics_event (id, seq);

-- Derived structures (derived.ts), the sync set first: each an ordered bytes-to-bytes space.
CREATE TABLE ics_derived (
  structure text NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (structure, key)
);

-- How far each derived structure has seen the event log (replayed up to `after`; done: current).
CREATE TABLE ics_derived_state (
  structure text PRIMARY KEY,
  after bigint NOT NULL,
  done boolean NOT NULL
);

-- The certificate index (certificates.ts), keyed by the serial's value-ordered encoding.
CREATE TABLE ics_certificate (
  serial_key bytea PRIMARY KEY,
  serial text NOT NULL,
  record_id text NOT NULL,
  issuer text NOT NULL,
  purpose text NOT NULL,
  not_before bigint NOT NULL,
  not_after bigint NOT NULL,
  sha256 text NOT NULL,
  der bytea NOT NULL,
  issued_at bigint NOT NULL,
  revoked_at bigint,
  revoked_reason text
);
CREATE INDEX ics_certificate_by_record ON ics_certificate (record_id, issued_at, serial_key);
CREATE INDEX ics_certificate_by_expiry ON ics_certificate (not_after, serial_key);
CREATE INDEX ics_certificate_revoked ON ics_certificate (issuer, serial_key) WHERE revoked_at IS NOT NULL;
