/**
 * The SQL the store's Writer (_writes.ts) prepares: one statement per op kind, and the multi-row
 * `out` INSERT it builds. Private to src/store/; text only (the tables are schema.ts).
 */

/** The Writer's prepared statements, by name. */
export const SQL = {
  sessionOther: "SELECT sid FROM sessions WHERE client_id = ? AND sid <> ?",
  session: `INSERT INTO sessions (sid, client_id, partition, proto_ver, expiry_ms, connected,
      disconnected_at, created_at, will, will_delay_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (sid) DO UPDATE SET client_id = excluded.client_id, proto_ver = excluded.proto_ver,
      expiry_ms = excluded.expiry_ms, connected = excluded.connected,
      disconnected_at = excluded.disconnected_at, will = excluded.will,
      will_delay_ms = excluded.will_delay_ms`,
  sessionState:
    "UPDATE sessions SET connected = ?, disconnected_at = ?, expiry_ms = ? WHERE sid = ?",
  delSubs: "DELETE FROM subscriptions WHERE sid = ?",
  delOut: "DELETE FROM outgoing WHERE sid = ?",
  delRels: "DELETE FROM awaiting_rel WHERE sid = ?",
  delSession: "DELETE FROM sessions WHERE sid = ?",
  sub: `INSERT INTO subscriptions (sid, filter, qos, no_local, rap, rh, sub_id)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sid, filter) DO UPDATE SET qos = excluded.qos,
      no_local = excluded.no_local, rap = excluded.rap, rh = excluded.rh, sub_id = excluded.sub_id`,
  unsub: "DELETE FROM subscriptions WHERE sid = ? AND filter = ?",
  message: "INSERT INTO messages (refs, body) VALUES (0, ?)",
  outSent: "UPDATE outgoing SET phase = 1, packet_id = ? WHERE sid = ? AND seq = ?",
  outPubrel: "UPDATE outgoing SET phase = 2, msg_id = NULL, body = NULL WHERE sid = ? AND seq = ?",
  outDelete: "DELETE FROM outgoing WHERE sid = ? AND seq = ?",
  outDeleteRun: "DELETE FROM outgoing WHERE sid = ? AND seq BETWEEN ? AND ?",
  outSentRun:
    "UPDATE outgoing SET phase = 1, packet_id = seq + ? WHERE sid = ? AND seq BETWEEN ? AND ?",
  // The row's message is read before the delete: its messages row may go with the last ref.
  outOldest: `SELECT o.seq AS seq, coalesce(o.body, m.body) AS body FROM outgoing o
      LEFT JOIN messages m ON m.id = o.msg_id
    WHERE o.sid = ? AND o.seq > ? AND o.phase = 0 ORDER BY o.seq LIMIT 1`,
  rel: "INSERT OR REPLACE INTO awaiting_rel (sid, packet_id, received_at) VALUES (?, ?, ?)",
  relDelete: "DELETE FROM awaiting_rel WHERE sid = ? AND packet_id = ?",
  retainedHas: "SELECT 1 AS x FROM retained WHERE topic = ?",
  retainedBody: "SELECT body FROM retained WHERE topic = ?",
  retain: `INSERT INTO retained (topic, partition, depth, l1, l2, l3, l4, l5, l6, l7, l8,
      expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (topic) DO UPDATE SET partition = excluded.partition,
      expires_at = excluded.expires_at, body = excluded.body`,
  retainDelete: "DELETE FROM retained WHERE topic = ?",
  delay: "INSERT OR REPLACE INTO delayed (id, due_at, body) VALUES (?, ?, ?)",
  delayDelete: "DELETE FROM delayed WHERE id = ?",
  ban: `INSERT OR REPLACE INTO banned (as_, who, by_, reason, at, until)
    VALUES (?, ?, ?, ?, ?, ?)`,
  banDelete: "DELETE FROM banned WHERE as_ = ? AND who = ?",
  user: `INSERT OR REPLACE INTO users (user_id_type, user_id, password_hash, salt, is_superuser)
    VALUES (?, ?, ?, ?, ?)`,
  userDelete: "DELETE FROM users WHERE user_id_type = ? AND user_id = ?",
  acl: "INSERT OR REPLACE INTO acl_rules (who_type, who, rules) VALUES (?, ?, ?)",
  aclDelete: "DELETE FROM acl_rules WHERE who_type = ? AND who = ?",
} as const;

/** The head of a multi-row `out` INSERT; the rows' `(?, ...)` groups follow. */
export const OUT_INSERT =
  "INSERT INTO outgoing (sid, seq, phase, packet_id, qos, retain, sub_ids, shared, msg_id, body) VALUES ";
/** Parameters of one `out` row. */
export const OUT_COLUMNS = 10;
/** Rows per multi-row INSERT at most (10 parameters each, far below SQLite's limit). */
export const OUT_ROWS = 32;
