/**
 * Writer: applies the ops of a batch with prepared statements, inside a transaction the Store
 * opened. Private to src/store/. Knows the tables, nothing of MQTT beyond splitting a retained
 * topic into levels. A message referenced by two or more `out` ops of one batch goes to
 * `messages` once (refs kept by triggers); a single reference is stored inline.
 *
 * Runs: a batch of an online persistent session carries, per pass, one `out_delete` per PUBACK
 * and one `out_sent` per queued row moved into the window, for consecutive seqs (about 32 of
 * each in fan-in QoS 1, measured). Consecutive seqs of one session are applied as one ranged
 * statement (`seq BETWEEN`), and `out_sent` with a constant packet id - seq too: one statement
 * instead of 32. A run is held back only past `out` inserts (other rows) and its own kind's ops;
 * any other op applies the held runs first (drop_oldest reads phases, a session delete ...).
 * `out` rows are held too and inserted up to 32 to a statement (`INSERT ... VALUES (...), ...`:
 * one call into SQLite instead of 32, measured 2.6 -> 1.1 µs per row), before any run or other
 * op is applied. Held rows and runs span the batches of a transaction (`begin`/`end`).
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { RETAINED_LEVELS } from "./schema.ts";
import { partitionOfKey } from "./keys.ts";
import type { StoreOp, WireBatch } from "./types.ts";
import { decodeMessage } from "../mqtt/mod.ts";
import { RecentClears } from "./_retain_clears.ts";
import { OUT_COLUMNS, OUT_INSERT, OUT_ROWS, SQL } from "./_write_sql.ts";

type Stmts = Record<string, StatementSync>;

/** Retained bookkeeping shared with the Store: the count and its cap. */
export interface RetainedCount {
  count: number;
  readonly max: number;
}

/** Consecutive seqs of one session held back to be applied as one statement. */
interface Run {
  sid: number;
  from: number;
  to: number;
  /** out_sent: packet id - seq, the same for every row of the run. */
  delta: number;
}

/** Applies ops; one per Store. */
export class Writer {
  readonly #db: DatabaseSync;
  readonly #s: Stmts;
  #deletes: Run | null = null;
  #sents: Run | null = null;
  /** Held `out` rows' parameters, OUT_COLUMNS per row, inserted together (see `end`). */
  #outs: (number | string | Uint8Array | null)[] = [];
  /** `INSERT ... VALUES (...) x n`, prepared when first needed, by n. */
  readonly #outInserts: StatementSync[] = [];
  /** Recent local clears of retained topics, decided against in the commit (_retain_clears.ts). */
  readonly clears = new RecentClears();

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#s = {};
    for (const [name, sql] of Object.entries(SQL)) this.#s[name] = db.prepare(sql);
  }

  /**
   * Runs `ops` (all of `batch.ops`, or the releasing subset) inside the open transaction.
   * Returns how many `retain` ops were refused by the cap; the messages of rows dropped by
   * `out_drop_oldest` are pushed to `dropped`. Throws what SQLite throws.
   */
  run(
    batch: WireBatch,
    ops: readonly StoreOp[],
    retained: RetainedCount,
    dropped: (Uint8Array | null)[],
  ): number {
    const shared = sharedMessages(ops, batch.msgs.length);
    const ids = new Map<number, number>();
    let refused = 0;
    const s = this.#s;
    for (const o of ops) {
      if (o.op === "out_delete") {
        const r = this.#deletes;
        const to = o.to ?? o.seq;
        if (r && r.sid === o.sid && r.to + 1 === o.seq) r.to = to;
        else {
          this.#flushDeletes();
          this.#deletes = { sid: o.sid, from: o.seq, to, delta: 0 };
        }
        continue;
      }
      if (o.op === "out_sent") {
        const r = this.#sents;
        const delta = o.packetId - o.seq;
        const to = o.to ?? o.seq;
        if (r && r.sid === o.sid && r.to + 1 === o.seq && r.delta === delta) r.to = to;
        else {
          this.#flushSents();
          this.#sents = { sid: o.sid, from: o.seq, to, delta };
        }
        continue;
      }
      if (o.op !== "out") this.#flushRuns();
      switch (o.op) {
        case "session": {
          const r = o.session;
          const other = s.sessionOther!.get(r.clientId, r.sid);
          if (other) this.#deleteSession(Number(other.sid));
          const will = r.will >= 0 ? msgAt(batch, r.will) : null;
          s.session!.run(
            r.sid,
            r.clientId,
            partitionOfKey(r.sid),
            r.protoVer,
            r.expiryMs,
            r.connected ? 1 : 0,
            r.disconnectedAt,
            r.createdAt,
            will,
            r.willDelayMs,
          );
          break;
        }
        case "session_state":
          s.sessionState!.run(o.connected ? 1 : 0, o.disconnectedAt, o.expiryMs, o.sid);
          break;
        case "session_delete":
          this.#deleteSession(o.sid);
          break;
        case "sub": {
          const p = o.opts;
          s.sub!.run(
            o.sid,
            o.filter,
            p.qos,
            p.noLocal ? 1 : 0,
            p.retainAsPublished ? 1 : 0,
            p.retainHandling,
            p.subscriptionId,
          );
          break;
        }
        case "unsub":
          s.unsub!.run(o.sid, o.filter);
          break;
        case "out": {
          let msgId: number | null = null;
          let body: Uint8Array | null = null;
          if ((shared?.[o.msg] ?? 0) > 1) {
            msgId = ids.get(o.msg) ?? null;
            if (msgId === null) {
              msgId = Number(s.message!.run(msgAt(batch, o.msg)).lastInsertRowid);
              ids.set(o.msg, msgId);
            }
          } else body = msgAt(batch, o.msg);
          this.#outs.push(
            o.sid,
            o.seq,
            o.packetId > 0 ? 1 : 0,
            o.packetId,
            o.qos,
            o.retain ? 1 : 0,
            o.subIds ? o.subIds.join(",") : "",
            o.shared ?? "",
            msgId,
            body,
          );
          if (this.#outs.length >= OUT_ROWS * OUT_COLUMNS) this.#flushOuts();
          break;
        }
        case "out_pubrel":
          s.outPubrel!.run(o.sid, o.seq);
          break;
        case "out_drop_oldest": {
          const row = s.outOldest!.get(o.sid, o.after);
          if (row) s.outDelete!.run(o.sid, row.seq as number);
          dropped.push(row ? row.body as Uint8Array : null);
          break;
        }
        case "rel":
          s.rel!.run(o.sid, o.packetId, o.at);
          break;
        case "rel_delete":
          s.relDelete!.run(o.sid, o.packetId);
          break;
        case "retain": {
          if (o.unlessNewer !== undefined && this.#decidedLater(o.topic, o.unlessNewer)) break;
          const isNew = s.retainedHas!.get(o.topic) === undefined;
          if (isNew && retained.max > 0 && retained.count >= retained.max) {
            refused++;
            break;
          }
          const levels = levelColumns(o.topic);
          s.retain!.run(o.topic, o.partition, ...levels, o.expiresAt, msgAt(batch, o.msg));
          if (isNew) retained.count++;
          this.clears.written(o.topic);
          break;
        }
        case "retain_delete":
          if (o.unlessNewer !== undefined && this.#decidedLater(o.topic, o.unlessNewer)) break;
          retained.count -= Number(s.retainDelete!.run(o.topic).changes);
          if (o.clearedAt !== undefined) this.clears.cleared(o.topic, o.clearedAt);
          break;
        case "delay":
          s.delay!.run(o.id, o.dueAt, msgAt(batch, o.msg));
          break;
        case "delay_delete":
          s.delayDelete!.run(o.id);
          break;
        case "ban": {
          const b = o.ban;
          s.ban!.run(b.as, b.who, b.by, b.reason, b.at, b.until);
          break;
        }
        case "ban_delete":
          s.banDelete!.run(o.as, o.who);
          break;
        case "user": {
          const u = o.user;
          s.user!.run(u.userIdType, u.userId, u.passwordHash, u.salt, u.isSuperuser ? 1 : 0);
          break;
        }
        case "user_delete":
          s.userDelete!.run(o.userIdType, o.userId);
          break;
        case "acl":
          s.acl!.run(o.whoType, o.who, JSON.stringify(o.rules));
          break;
        case "acl_delete":
          s.aclDelete!.run(o.whoType, o.who);
          break;
        default:
          throw new TypeError(`Unknown store op ${JSON.stringify((o as { op: unknown }).op)}`);
      }
    }
    return refused;
  }

  /**
   * A transaction starts: what a failed one held is void (it was rolled back). Held rows and
   * runs span the batches of one transaction: a group commit of many small parts (one per
   * routed publish) still inserts its rows 32 to a statement.
   */
  begin(): void {
    this.#deletes = this.#sents = null;
    this.#outs.length = 0;
    this.clears.begin();
  }

  /** The transaction committed (after COMMIT): what it staged in `clears` is kept. */
  committed(): void {
    this.clears.committed();
  }

  /**
   * Whether a peer's write or clear of `topic` published at `at` loses: the row was published
   * later, or a local clear not older than it was committed (RecentClears).
   */
  #decidedLater(topic: string, at: number): boolean {
    const clearedAt = this.clears.clearedAt(topic);
    return (clearedAt !== undefined && clearedAt >= at) || storedLater(this.#s, topic, at);
  }

  /** Applies what is held; the Store calls it before COMMIT. */
  end(): void {
    this.#flushRuns();
  }

  /**
   * Applies the held rows, then the held runs (either order between the runs: a row both sent
   * and deleted ends deleted). Rows first: a run may cover a row inserted earlier in the
   * transaction (a row enqueued, sent and acknowledged within one group commit).
   */
  #flushRuns(): void {
    this.#flushOuts();
    this.#flushDeletes();
    this.#flushSents();
  }

  #flushOuts(): void {
    const params = this.#outs;
    const n = params.length / OUT_COLUMNS;
    if (n === 0) return;
    this.#outs = [];
    let stmt = this.#outInserts[n];
    if (!stmt) {
      const row = `(${new Array(OUT_COLUMNS).fill("?").join(", ")})`;
      stmt = this.#outInserts[n] = this.#db.prepare(OUT_INSERT + new Array(n).fill(row).join(", "));
    }
    stmt.run(...params);
  }

  #flushDeletes(): void {
    this.#flushOuts();
    const r = this.#deletes;
    if (!r) return;
    this.#deletes = null;
    if (r.from === r.to) this.#s.outDelete!.run(r.sid, r.from);
    else this.#s.outDeleteRun!.run(r.sid, r.from, r.to);
  }

  #flushSents(): void {
    this.#flushOuts();
    const r = this.#sents;
    if (!r) return;
    this.#sents = null;
    if (r.from === r.to) this.#s.outSent!.run(r.from + r.delta, r.sid, r.from);
    else this.#s.outSentRun!.run(r.delta, r.sid, r.from, r.to);
  }

  #deleteSession(sid: number): void {
    const s = this.#s;
    s.delSubs!.run(sid);
    s.delOut!.run(sid);
    s.delRels!.run(sid);
    s.delSession!.run(sid);
  }
}

/** How many `out` ops refer to each message of the batch (null without `out` ops). */
function sharedMessages(ops: readonly StoreOp[], n: number): Uint32Array | null {
  let counts: Uint32Array | null = null;
  for (const o of ops) if (o.op === "out") (counts ??= new Uint32Array(n))[o.msg]! += 1;
  return counts;
}

function msgAt(batch: WireBatch, i: number): Uint8Array {
  const m = batch.msgs[i];
  if (m === undefined) throw new RangeError(`Batch has no message ${i}`);
  return m;
}

/** depth, then levels 1-8 ('' beyond the topic's depth). */
function levelColumns(topic: string): [number, ...string[]] {
  const levels = topic.split("/");
  const out: [number, ...string[]] = [levels.length];
  for (let i = 0; i < RETAINED_LEVELS; i++) out.push(levels[i] ?? "");
  return out;
}

/**
 * Whether `topic`'s stored retained message was published after `at` (a peer's write of that
 * time then loses: last writer wins by publish time, docs/cluster.md). An unreadable row loses.
 */
function storedLater(s: Stmts, topic: string, at: number): boolean {
  const row = s.retainedBody!.get(topic);
  if (!row) return false;
  try {
    return decodeMessage(row.body as Uint8Array, topic).timestamp > at;
  } catch {
    return false;
  }
}
