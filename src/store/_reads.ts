/**
 * Reads of partitioned data: what a shard loads at start for its partitions (sessions with
 * their subscriptions and queue sizes, delayed messages, the next free keys), and what it reads
 * later for one session (its outgoing rows page by page, its awaiting-PUBREL ids). Private to
 * src/store/. Returns records with messages still encoded: the caller decodes (decodeMessage)
 * only what it uses, so a reply can cross isolates as bytes.
 */

import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from "node:sqlite";
import { returnArrays } from "./errors.ts";
import { keyRanges, KEYS_PER_PARTITION, partitionRanges } from "./keys.ts";
import type { PhaseValue, SubOptionsRecord } from "./types.ts";

/** A persistent session as loaded at start. */
export interface LoadedSession {
  readonly sid: number;
  readonly partition: number;
  readonly clientId: string;
  readonly protoVer: number;
  readonly expiryMs: number;
  /** True when the session had a connection when the broker stopped (a crash, or kill -9). */
  readonly connected: boolean;
  readonly disconnectedAt: number;
  readonly createdAt: number;
  /** encodeMessage() bytes of the will, or null. */
  readonly will: Uint8Array | null;
  readonly willDelayMs: number;
  readonly subscriptions: readonly { readonly filter: string; readonly opts: SubOptionsRecord }[];
  /** Outgoing rows (queued + inflight) and the highest seq used (0 = none). */
  readonly outgoing: { readonly rows: number; readonly lastSeq: number };
}

/** One outgoing row (queue or inflight), in seq order. */
export interface OutgoingRow {
  readonly seq: number;
  readonly phase: PhaseValue;
  readonly packetId: number;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly subIds: readonly number[];
  readonly shared: string;
  /** encodeMessage() bytes; null in phase Pubrel (the message is no longer needed). */
  readonly body: Uint8Array | null;
}

/** A delayed message. `id` is a partitioned key. */
export interface DelayedRow {
  readonly id: number;
  readonly dueAt: number;
  readonly body: Uint8Array;
}

/** Next free key number per partition (for makeKey), sessions and delayed alike. */
export type NextKeys = Record<number, number>;

/** Prepared reads for one connection. */
export class PartitionReader {
  readonly #s: Record<string, StatementSync>;

  constructor(db: DatabaseSync) {
    const q = (sql: string) => returnArrays(db.prepare(sql));
    this.#s = {
      sessions: q(`SELECT sid, client_id, proto_ver, expiry_ms, connected, disconnected_at,
        created_at, will, will_delay_ms FROM sessions WHERE sid > ? AND sid <= ?
        ORDER BY sid LIMIT ?`),
      subs: q(`SELECT sid, filter, qos, no_local, rap, rh, sub_id FROM subscriptions
        WHERE sid >= ? AND sid <= ? ORDER BY sid`),
      outCounts: q(`SELECT sid, count(*) AS n, max(seq) AS last FROM outgoing
        WHERE sid >= ? AND sid <= ? GROUP BY sid`),
      outgoing: q(`SELECT o.seq, o.phase, o.packet_id, o.qos, o.retain, o.sub_ids, o.shared,
        coalesce(o.body, m.body) AS body FROM outgoing o LEFT JOIN messages m ON m.id = o.msg_id
        WHERE o.sid = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`),
      rels: q("SELECT packet_id, received_at FROM awaiting_rel WHERE sid = ? ORDER BY packet_id"),
      delayed: q("SELECT id, due_at, body FROM delayed WHERE id >= ? AND id <= ? ORDER BY id"),
      maxSid: q("SELECT max(sid) AS m FROM sessions WHERE sid >= ? AND sid <= ?"),
      maxDelayed: q("SELECT max(id) AS m FROM delayed WHERE id >= ? AND id <= ?"),
      bySid: q("SELECT sid FROM sessions WHERE client_id = ?"),
    };
  }

  /**
   * Up to `limit` sessions of `partitions` with sid greater than `afterSid`, in sid order
   * (0 to start). Continue with the last sid until a page comes back shorter than `limit`.
   */
  sessions(partitions: Iterable<number>, afterSid: number, limit: number): LoadedSession[] {
    const out: LoadedSession[] = [];
    for (const [lo, hi] of keyRanges(partitions)) {
      if (hi <= afterSid || out.length >= limit) continue;
      const from = Math.max(lo - 1, afterSid);
      const rows = all(this.#s.sessions!, from, hi, limit - out.length);
      if (rows.length === 0) continue;
      const first = Number(rows[0]![0]), last = Number(rows[rows.length - 1]![0]);
      const subs = groupBySid(all(this.#s.subs!, first, last));
      const counts = new Map<number, { rows: number; lastSeq: number }>();
      for (const c of all(this.#s.outCounts!, first, last)) {
        counts.set(Number(c[0]), { rows: Number(c[1]), lastSeq: Number(c[2]) });
      }
      for (const r of rows) {
        const sid = Number(r[0]);
        out.push({
          sid,
          partition: Math.floor(sid / KEYS_PER_PARTITION),
          clientId: r[1] as string,
          protoVer: Number(r[2]),
          expiryMs: Number(r[3]),
          connected: r[4] === 1,
          disconnectedAt: Number(r[5]),
          createdAt: Number(r[6]),
          will: (r[7] as Uint8Array | null) ?? null,
          willDelayMs: Number(r[8]),
          subscriptions: subs.get(sid) ?? [],
          outgoing: counts.get(sid) ?? { rows: 0, lastSeq: 0 },
        });
      }
    }
    return out;
  }

  /** Outgoing rows of one session after `afterSeq`, in order (inflight first, then queue). */
  outgoing(sid: number, afterSeq: number, limit: number): OutgoingRow[] {
    return all(this.#s.outgoing!, sid, afterSeq, limit).map((r) => ({
      seq: Number(r[0]),
      phase: Number(r[1]) as PhaseValue,
      packetId: Number(r[2]),
      qos: Number(r[3]) as 0 | 1 | 2,
      retain: r[4] === 1,
      subIds: r[5] === "" ? [] : String(r[5]).split(",").map(Number),
      shared: r[6] as string,
      body: (r[7] as Uint8Array | null) ?? null,
    }));
  }

  /** Incoming QoS 2 packet ids of one session still waiting for PUBREL. */
  awaitingRel(sid: number): { packetId: number; receivedAt: number }[] {
    return all(this.#s.rels!, sid).map((r) => ({
      packetId: Number(r[0]),
      receivedAt: Number(r[1]),
    }));
  }

  /** Delayed messages of `partitions`, in id order (bounded by delayed.max_delayed_messages). */
  delayed(partitions: Iterable<number>): DelayedRow[] {
    const out: DelayedRow[] = [];
    for (const [lo, hi] of keyRanges(partitions)) {
      for (const r of all(this.#s.delayed!, lo, hi)) {
        out.push({ id: Number(r[0]), dueAt: Number(r[1]), body: r[2] as Uint8Array });
      }
    }
    return out;
  }

  /** The next free key number of each partition (1 when empty). */
  nextKeys(partitions: Iterable<number>): NextKeys {
    const out: NextKeys = {};
    for (const [a, b] of partitionRanges(partitions)) {
      for (let p = a; p <= b; p++) {
        const lo = p * KEYS_PER_PARTITION, hi = lo + KEYS_PER_PARTITION - 1;
        const s = Number(all(this.#s.maxSid!, lo, hi)[0]?.[0] ?? 0);
        const d = Number(all(this.#s.maxDelayed!, lo, hi)[0]?.[0] ?? 0);
        out[p] = Math.max(s === 0 ? 0 : s - lo, d === 0 ? 0 : d - lo) + 1;
      }
    }
    return out;
  }

  /** The sid of a client id's session, or null. */
  sidOf(clientId: string): number | null {
    const r = all(this.#s.bySid!, clientId)[0];
    return r ? Number(r[0]) : null;
  }
}

type Row = readonly SQLOutputValue[];

/** `stmt.all()` of a statement set to return arrays. */
function all(stmt: StatementSync, ...params: SQLInputValue[]): Row[] {
  return stmt.all(...params) as unknown as Row[];
}

function groupBySid(rows: Row[]) {
  const out = new Map<number, { filter: string; opts: SubOptionsRecord }[]>();
  for (const r of rows) {
    const sid = Number(r[0]);
    let list = out.get(sid);
    if (!list) out.set(sid, list = []);
    list.push({
      filter: r[1] as string,
      opts: {
        qos: Number(r[2]) as 0 | 1 | 2,
        noLocal: r[3] === 1,
        retainAsPublished: r[4] === 1,
        retainHandling: Number(r[5]) as 0 | 1 | 2,
        subscriptionId: Number(r[6]),
      },
    });
  }
  return out;
}
