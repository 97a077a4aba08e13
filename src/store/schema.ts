/**
 * The store file's schema, versioned in one place: `PRAGMA user_version` is the schema version,
 * `PRAGMA application_id` marks the file as Culex's, and MIGRATIONS holds one step per version,
 * applied forward in one transaction at open. A released step is never edited: a change is a
 * new step (STYLE.md habit 9). Message bodies are `encodeMessage()` bytes, whose own format
 * version (src/mqtt/message.ts) leads every body.
 *
 * Partitioned rows: sessions, subscriptions, outgoing and awaiting_rel are keyed by `sid`, and
 * delayed by `id`, whose high bits are the partition (keys.ts); retained rows carry a
 * `partition` column. The secondary indexes of `retained` are not part of the schema version:
 * they follow `retainer.backend.index_specs` and are created or dropped at open.
 */

/** "Culx": marks a file as a Culex store. */
export const APPLICATION_ID = 0x43756c78;

/** One forward step: run in a transaction that then sets user_version = version. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

const V1 = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
  sid INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  partition INTEGER NOT NULL,
  proto_ver INTEGER NOT NULL,
  expiry_ms INTEGER NOT NULL,
  connected INTEGER NOT NULL,
  disconnected_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  will BLOB,
  will_delay_ms INTEGER NOT NULL
);

CREATE TABLE subscriptions (
  sid INTEGER NOT NULL,
  filter TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL,
  rap INTEGER NOT NULL,
  rh INTEGER NOT NULL,
  sub_id INTEGER NOT NULL,
  PRIMARY KEY (sid, filter)
) WITHOUT ROWID;

-- A message for more than one session of a batch is stored once here; outgoing rows then
-- point at it (msg_id) instead of carrying it (body). refs counts the pointing rows.
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  refs INTEGER NOT NULL,
  body BLOB NOT NULL
);

-- Queue and inflight window of persistent sessions, in seq order: phase 0 queued, 1 sent
-- (resent with DUP), 2 QoS 2 after PUBREC (PUBREL resent; the message is released).
CREATE TABLE outgoing (
  sid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  phase INTEGER NOT NULL,
  packet_id INTEGER NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  sub_ids TEXT NOT NULL,
  shared TEXT NOT NULL,
  msg_id INTEGER,
  body BLOB,
  PRIMARY KEY (sid, seq)
);

CREATE TRIGGER outgoing_ref AFTER INSERT ON outgoing WHEN NEW.msg_id IS NOT NULL BEGIN
  UPDATE messages SET refs = refs + 1 WHERE id = NEW.msg_id;
END;
CREATE TRIGGER outgoing_unref AFTER DELETE ON outgoing WHEN OLD.msg_id IS NOT NULL BEGIN
  UPDATE messages SET refs = refs - 1 WHERE id = OLD.msg_id;
  DELETE FROM messages WHERE id = OLD.msg_id AND refs <= 0;
END;
CREATE TRIGGER outgoing_release AFTER UPDATE OF msg_id ON outgoing
WHEN OLD.msg_id IS NOT NULL AND NEW.msg_id IS NULL BEGIN
  UPDATE messages SET refs = refs - 1 WHERE id = OLD.msg_id;
  DELETE FROM messages WHERE id = OLD.msg_id AND refs <= 0;
END;

-- Incoming QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3].
CREATE TABLE awaiting_rel (
  sid INTEGER NOT NULL,
  packet_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (sid, packet_id)
) WITHOUT ROWID;

-- Levels 1-8 are columns ('' past the topic's depth) for retainer.backend.index_specs.
CREATE TABLE retained (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  l1 TEXT NOT NULL, l2 TEXT NOT NULL, l3 TEXT NOT NULL, l4 TEXT NOT NULL,
  l5 TEXT NOT NULL, l6 TEXT NOT NULL, l7 TEXT NOT NULL, l8 TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE UNIQUE INDEX retained_topic ON retained (topic);

CREATE TABLE delayed (
  id INTEGER PRIMARY KEY,
  due_at INTEGER NOT NULL,
  body BLOB NOT NULL
);

CREATE TABLE banned (
  as_ TEXT NOT NULL,
  who TEXT NOT NULL,
  by_ TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL,
  until INTEGER,
  PRIMARY KEY (as_, who)
) WITHOUT ROWID;

CREATE TABLE users (
  user_id_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  salt TEXT NOT NULL,
  is_superuser INTEGER NOT NULL,
  PRIMARY KEY (user_id_type, user_id)
) WITHOUT ROWID;

CREATE TABLE acl_rules (
  who_type TEXT NOT NULL,
  who TEXT NOT NULL,
  rules TEXT NOT NULL,
  PRIMARY KEY (who_type, who)
) WITHOUT ROWID;
`;

/** Every step, in order. The last one's version is SCHEMA_VERSION. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "sessions, queues, retained, delayed, bans, users, ACL", sql: V1 },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Deepest topic level with its own column in `retained`. */
export const RETAINED_LEVELS = 8;

/**
 * The name of the `retained` index for one spec: `retained_l1_l3` for [1, 3].
 *
 * @example
 * ```ts
 * import { retainedIndexName } from "./schema.ts";
 * import assert from "node:assert/strict";
 * assert.ok(retainedIndexName([1, 3]) === "retained_l1_l3");
 * ```
 */
export function retainedIndexName(spec: readonly number[]): string {
  return `retained_${spec.map((p) => `l${p}`).join("_")}`;
}

/** The CREATE INDEX of one spec. Positions are checked 1-8 (config does too). */
export function retainedIndexSql(spec: readonly number[]): string {
  for (const p of spec) {
    if (!Number.isInteger(p) || p < 1 || p > RETAINED_LEVELS) {
      throw new RangeError(`Index position ${p} is outside 1..${RETAINED_LEVELS}`);
    }
  }
  const cols = spec.map((p) => `l${p}`).join(", ");
  return `CREATE INDEX IF NOT EXISTS ${retainedIndexName(spec)} ON retained (${cols})`;
}
