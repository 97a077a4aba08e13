/**
 * StoreBatch: what a shard collects during one pass and commits once (durable mode's "commits
 * grouped per shard pass"). Named methods for each event of the MQTT flows build the ops;
 * a Message is encoded once per batch however many sessions it goes to. `take()` hands the
 * WireBatch over (to Store.apply in this isolate, or to the store worker) and starts afresh.
 * Pure data; no I/O. Owned by src/store/; used by the shard.
 */

import { encodeMessage, type Message } from "../mqtt/mod.ts";
import type {
  AclRule,
  AclWhoType,
  BanRecord,
  StoreOp,
  SubOptionsRecord,
  UserRecord,
  WireBatch,
} from "./types.ts";

/** What the shard's Delivery has (structural: the store does not import src/shard/). */
export interface DeliveryLike {
  readonly message: Message;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly subscriptionIds: readonly number[];
  readonly shared?: string;
}

/** A persistent session's row as the shard knows it. */
export interface SessionInfo {
  readonly sid: number;
  readonly clientId: string;
  readonly protoVer: number;
  /** ms; Infinity or -1 = never expires. */
  readonly expiryMs: number;
  readonly connected: boolean;
  readonly disconnectedAt: number;
  readonly createdAt: number;
  readonly will: Message | null;
  readonly willDelayMs: number;
}

/** Bytes of one arena chunk; a message larger than a quarter of it gets a buffer of its own. */
const ARENA_BYTES = 64 * 1024;
let arena = new Uint8Array(0);
let arenaAt = 0;

/**
 * `size` bytes for an encoded message, a view into a shared chunk: in durable fan-in every
 * delivery to a persistent session is encoded here, and a buffer of its own per message was a
 * malloc'd backing store each for V8's helper threads to free. The views live until the
 * pass's commit request copied them (encodeCommit); a chunk is garbage once its views are.
 */
function arenaView(size: number): Uint8Array {
  if (size > ARENA_BYTES / 4) return new Uint8Array(size);
  if (arenaAt + size > arena.length) {
    arena = new Uint8Array(ARENA_BYTES);
    arenaAt = 0;
  }
  arenaAt += size;
  return arena.subarray(arenaAt - size, arenaAt);
}

/** Ops and messages of one commit. */
export class StoreBatch {
  #ops: StoreOp[] = [];
  #msgs: Uint8Array[] = [];
  #index = new Map<Message, number>();
  #bytes = 0;
  /** `out_drop_oldest` ops in this batch so far. */
  #drops = 0;
  /** Calls that added an op so far (a run of acks is one op but many calls). */
  #size = 0;
  /**
   * Runs of consecutive seqs of one session held back as one op: the acks (`done`) and the
   * rows moved into the window (`sent`, with packet ids that follow the seqs) a pass makes for
   * an online session, about 32 of each per pass in fan-in QoS 1 (measured). One op instead of
   * 32 is less to clone to the store worker and one statement there (_writes.ts). A run is
   * held past `enqueue` (other rows) and its own kind's calls only; any other op pushes it
   * first, so ops on other rows keep their order (drop_oldest reads the phases).
   */
  #deletes: { sid: number; seq: number; to: number } | null = null;
  #sents: { sid: number; seq: number; to: number; packetId: number } | null = null;

  /** Number of ops so far (each call counts, also those joined into a run). */
  get size(): number {
    return this.#size;
  }

  #push(op: StoreOp): void {
    this.#pushRuns();
    this.#ops.push(op);
    this.#size++;
  }

  #pushRuns(): void {
    const d = this.#deletes, s = this.#sents;
    if (d) {
      this.#ops.push({
        op: "out_delete",
        sid: d.sid,
        seq: d.seq,
        ...(d.to > d.seq ? { to: d.to } : {}),
      });
    }
    if (s) {
      this.#ops.push({
        op: "out_sent",
        sid: s.sid,
        seq: s.seq,
        packetId: s.packetId,
        ...(s.to > s.seq ? { to: s.to } : {}),
      });
    }
    this.#deletes = this.#sents = null;
  }

  /** Encoded message bytes so far (for a bound on a batch). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Index of `m` in this batch's messages, encoding it on first use. */
  message(m: Message): number {
    let i = this.#index.get(m);
    if (i === undefined) {
      const b = encodeMessage(m, arenaView);
      i = this.#msgs.push(b) - 1;
      this.#bytes += b.length;
      this.#index.set(m, i);
    }
    return i;
  }

  /** CONNECT of a persistent session (new or resumed; a will or expiry change). */
  session(s: SessionInfo): void {
    const will = s.will ? this.message(s.will) : -1;
    const expiryMs = expiryOf(s.expiryMs);
    this.#push({ op: "session", session: { ...s, expiryMs, will } });
  }

  /** Connection bound or ended; expiry may change at DISCONNECT (MQTT 5). */
  sessionState(sid: number, connected: boolean, disconnectedAt: number, expiryMs: number): void {
    this.#push({
      op: "session_state",
      sid,
      connected,
      disconnectedAt,
      expiryMs: expiryOf(expiryMs),
    });
  }

  /** Clean start, expiry, or a session that stops being persistent: everything of it goes. */
  sessionDelete(sid: number): void {
    this.#push({ op: "session_delete", sid });
  }

  subscribe(sid: number, filter: string, opts: SubOptionsRecord): void {
    this.#push({ op: "sub", sid, filter, opts });
  }

  unsubscribe(sid: number, filter: string): void {
    this.#push({ op: "unsub", sid, filter });
  }

  /**
   * A delivery to a persistent session at `seq` (the session's next sequence number): queued
   * (packetId 0) or sent at once with that packet id.
   */
  enqueue(sid: number, seq: number, d: DeliveryLike, packetId = 0): void {
    this.#size++;
    const msg = this.message(d.message);
    // Without subscription ids or a shared group (the common case) the op leaves them out: two
    // values less to clone to the store worker per message.
    const ids = d.subscriptionIds.length > 0;
    const shared = d.shared !== undefined && d.shared !== "";
    this.#ops.push(
      ids || shared
        ? {
          op: "out",
          sid,
          seq,
          qos: d.qos,
          retain: d.retain,
          packetId,
          msg,
          ...(ids ? { subIds: d.subscriptionIds } : {}),
          ...(shared ? { shared: d.shared } : {}),
        }
        : { op: "out", sid, seq, qos: d.qos, retain: d.retain, packetId, msg },
    );
  }

  /** A queued delivery moved into the inflight window with `packetId`. */
  sent(sid: number, seq: number, packetId: number): void {
    this.#size++;
    const r = this.#sents;
    if (r && r.sid === sid && r.to + 1 === seq && r.packetId + (seq - r.seq) === packetId) {
      r.to = seq;
      return;
    }
    if (r) {
      this.#ops.push({
        op: "out_sent",
        sid: r.sid,
        seq: r.seq,
        packetId: r.packetId,
        ...(r.to > r.seq ? { to: r.to } : {}),
      });
    }
    this.#sents = { sid, seq, to: seq, packetId };
  }

  /** PUBREC received for an outgoing QoS 2: only the PUBREL remains. */
  pubrel(sid: number, seq: number): void {
    this.#push({ op: "out_pubrel", sid, seq });
  }

  /** PUBACK, PUBCOMP, a failed PUBREC, a drop or an expiry: the row goes. */
  done(sid: number, seq: number): void {
    this.#size++;
    const r = this.#deletes;
    if (r && r.sid === sid && r.to + 1 === seq) {
      r.to = seq;
      return;
    }
    if (r) {
      this.#ops.push({
        op: "out_delete",
        sid: r.sid,
        seq: r.seq,
        ...(r.to > r.seq ? { to: r.to } : {}),
      });
    }
    this.#deletes = { sid, seq, to: seq };
  }

  /**
   * The session's queue is full under drop_oldest: its oldest queued row after `after` (the
   * queue's cursor) goes. Not a releasing op: on a full store it is refused with the enqueue that
   * replaces it. Returns the op's place among this batch's drops: the commit's result carries
   * the dropped row's message at that place (`ApplyResult.dropped`), for the `message.dropped`
   * hook.
   */
  dropOldest(sid: number, after: number): number {
    this.#push({ op: "out_drop_oldest", sid, after });
    return this.#drops++;
  }

  /** Incoming QoS 2 stored, PUBREC about to go [MQTT-4.3.3-8]. */
  awaitRel(sid: number, packetId: number, at: number): void {
    this.#push({ op: "rel", sid, packetId, at });
  }

  /** PUBREL received (or await_rel_timeout): the packet id may be reused. */
  releaseRel(sid: number, packetId: number): void {
    this.#push({ op: "rel_delete", sid, packetId });
  }

  /**
   * A retained message stored (empty payloads are deletes: call retainDelete). With
   * `unlessNewer` (a peer's write, published then), skipped at commit when the stored row was
   * published later: decided by the store, so no write between a read and the decision is lost.
   */
  retain(partition: number, m: Message, unlessNewer?: number): void {
    this.#push({
      op: "retain",
      topic: m.topic,
      partition,
      expiresAt: m.expiresAt,
      msg: this.message(m),
      ...(unlessNewer === undefined ? {} : { unlessNewer }),
    });
  }

  /**
   * A retained message deleted; `unlessNewer` as for retain(). `clearedAt`: the clear's publish
   * time, remembered by the store so that a peer's older write committed after the delete is
   * skipped too (a deleted row cannot refuse it).
   */
  retainDelete(topic: string, unlessNewer?: number, clearedAt?: number): void {
    this.#push({
      op: "retain_delete",
      topic,
      ...(unlessNewer === undefined ? {} : { unlessNewer }),
      ...(clearedAt === undefined ? {} : { clearedAt }),
    });
  }

  /** A delayed publish scheduled; `id` is a partitioned key (keys.ts). */
  delay(id: number, dueAt: number, m: Message): void {
    this.#push({ op: "delay", id, dueAt, msg: this.message(m) });
  }

  /** A delayed publish fired or cancelled. */
  delayDelete(id: number): void {
    this.#push({ op: "delay_delete", id });
  }

  ban(ban: BanRecord): void {
    this.#push({ op: "ban", ban });
  }
  banDelete(as: string, who: string): void {
    this.#push({ op: "ban_delete", as, who });
  }
  user(user: UserRecord): void {
    this.#push({ op: "user", user });
  }
  userDelete(userIdType: string, userId: string): void {
    this.#push({ op: "user_delete", userIdType, userId });
  }
  acl(whoType: AclWhoType, who: string, rules: readonly AclRule[]): void {
    this.#push({ op: "acl", whoType, who, rules });
  }
  aclDelete(whoType: AclWhoType, who: string): void {
    this.#push({ op: "acl_delete", whoType, who });
  }

  /**
   * The batch so far, for commit; the builder starts empty again. Fresh containers each time
   * (not cleared ones): see docs/architecture.md on Map.clear() and young-generation GC.
   */
  take(): WireBatch {
    this.#pushRuns();
    const out: WireBatch = { msgs: this.#msgs, ops: this.#ops };
    this.#ops = [];
    this.#msgs = [];
    this.#index = new Map();
    this.#bytes = 0;
    this.#drops = 0;
    this.#size = 0;
    return out;
  }
}

function expiryOf(ms: number): number {
  return ms === Infinity || ms < 0 ? -1 : ms;
}
