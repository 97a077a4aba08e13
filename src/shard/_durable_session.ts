/**
 * DurableQueue: the outgoing side of one persistent session in durable mode. Every QoS 1/2
 * delivery gets the session's next seq and an `outgoing` row; it is sent at once (with a packet
 * id, phase Sent) when the session is online, its window has room and nothing waits on disk,
 * otherwise it stays on disk only (phase Queued): the offline queue is not in memory. A PUBLISH
 * leaves only after the commit that stored it (so a crash can never show a subscriber a message
 * the store forgot, which would break QoS 2's exactly once). As the window frees, the next rows
 * are read from the store a window at a time. After a restart the first read also brings the
 * inflight rows back (resent with DUP and their packet ids, or PUBREL).
 *
 * Private to src/shard/; the Session holds one (null in memory mode) and calls it from its
 * deliver / ack / pump paths through the DurableHost port.
 */

import { decodeMessage, isExpired, type Message } from "../mqtt/mod.ts";
import { type OutgoingRow, Phase, StoreError } from "../store/mod.ts";
import type { CommitOutcome, ShardStore } from "./durable.ts";
import type { Delivery } from "./delivery.ts";
import type { InflightEntry } from "./inflight.ts";

/** Why a delivery was dropped (session.ts's DropReason; not imported, to keep imports one way). */
type DropReason = "queue_full" | "qos0_offline" | "expired" | "too_large";

/** What the queue needs of its Session. */
export interface DurableHost {
  connected(): boolean;
  congested(): boolean;
  inflightFree(): number;
  inflightGet(packetId: number): InflightEntry | undefined;
  inflightInsert(entry: InflightEntry): void;
  inflightDelete(packetId: number): void;
  claimPacketId(): number;
  /** Sends now (QoS 0 or an inflight entry); false when too large for the client. */
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean;
  sendPubrel(packetId: number): void;
  drop(d: Delivery, reason: DropReason): void;
  /** A queued row was dropped without being read (its message is not in memory). */
  dropUnread(reason: DropReason): void;
  /** The window freed (a drop after the commit): try the next. */
  pump(now: number): void;
  now(): number;
}

/** Rows read per page at most (a window is at most this, whatever max_inflight says). */
const MAX_PAGE = 1000;
/** Rows an online session keeps in memory beside the disk, to refill its window without reads. */
const CACHE_MAX = 1024;

/** An inflight entry in PUBREL phase needs no message: one empty delivery stands for all. */
const NO_MESSAGE: Message = {
  topic: "",
  payload: new Uint8Array(0),
  qos: 2,
  retain: false,
  properties: {},
  origin: "",
  expiresAt: 0,
  timestamp: 0,
};
export const PUBREL_DELIVERY: Delivery = {
  message: NO_MESSAGE,
  qos: 2,
  retain: false,
  subscriptionIds: [],
};

/** See the file header. */
export class DurableQueue {
  readonly sid: number;
  readonly protoVer: number;
  /** Highest seq given to a row. */
  lastSeq: number;
  /** Rows with seq ≤ cursor are in memory (inflight) or gone; later ones are on disk only. */
  cursor = 0;
  /** Rows after the cursor (on disk only). */
  onDisk: number;
  /** Awaiting-PUBREL ids were read back from the store (a session loaded at start). */
  relLoaded: boolean;
  readonly #store: ShardStore;
  readonly #maxLen: number;
  /** mqtt.mqueue_drop_policy: drop_oldest (EMQX's default) or drop_newest. */
  readonly #dropOldest: boolean;
  readonly #storeQos0: boolean;
  #reading = false;
  /** Online only: the rows right after the cursor, as enqueued (they are on disk too). */
  #cache: { seq: number; d: Delivery }[] = [];
  #cacheHead = 0;

  constructor(
    store: ShardStore,
    init: {
      sid: number;
      protoVer: number;
      lastSeq: number;
      onDisk: number;
      relLoaded: boolean;
      maxLen: number;
      dropOldest?: boolean;
      storeQos0: boolean;
    },
  ) {
    this.#store = store;
    this.sid = init.sid;
    this.protoVer = init.protoVer;
    this.lastSeq = init.lastSeq;
    this.onDisk = init.onDisk;
    this.relLoaded = init.relLoaded;
    this.#maxLen = init.maxLen;
    this.#dropOldest = init.dropOldest ?? false;
    this.#storeQos0 = init.storeQos0;
  }

  /** One delivery to this persistent session. */
  deliver(s: DurableHost, d: Delivery, now: number): void {
    if (isExpired(d.message, now)) {
      s.drop(d, "expired");
      return;
    }
    const online = s.connected() && !s.congested();
    if (d.qos === 0) {
      if (online) {
        if (!s.sendPublish(0, d, false)) s.drop(d, "too_large");
        return;
      }
      if (!this.#storeQos0) {
        s.drop(d, "qos0_offline");
        return;
      }
    } else if (online && this.onDisk === 0 && s.inflightFree() > 0) {
      const seq = ++this.lastSeq;
      const packetId = s.claimPacketId();
      const entry: InflightEntry = { packetId, delivery: d, phase: "publish", sentAt: now, seq };
      this.#store.batch.enqueue(this.sid, seq, d, packetId);
      this.cursor = seq;
      this.#sendAfterCommit(s, entry);
      return;
    }
    if (this.onDisk >= this.#maxLen && !this.#dropOldestRow(s)) {
      s.drop(d, "queue_full"); // drop_newest: the disk queue keeps what it has
      return;
    }
    this.#store.batch.enqueue(this.sid, ++this.lastSeq, d);
    // Online, and every row after the cursor is cached: keep this one too, so that the window
    // refills without a read (bounded; an offline session keeps nothing in memory).
    if (online && this.#cached() === this.onDisk && this.#cached() < CACHE_MAX) {
      this.#cache.push({ seq: this.lastSeq, d });
    }
    this.onDisk++;
    // Rows still queued on disk while online (a read found none yet): read after this commit.
    if (online) this.pump(s);
  }

  /**
   * drop_oldest with a full queue: the oldest queued row (right after the cursor) goes, in the
   * same commit as the new one. From the cache when it is there; otherwise by a delete of the
   * first queued row after the cursor, whose message the commit's result hands back, so that
   * the drop is reported (hook, metrics) as a cached one is, once committed. False (drop the new
   * one instead) under drop_newest, with a zero-length queue, or while a read of the rows after
   * the cursor is out: it could hand over the row being deleted.
   */
  #dropOldestRow(s: DurableHost): boolean {
    if (!this.#dropOldest || this.#maxLen <= 0 || this.onDisk <= 0) return false;
    if (this.#cached() > 0) {
      const { seq, d } = this.#cache[this.#cacheHead]!;
      this.#cache[this.#cacheHead++] = undefined as unknown as { seq: number; d: Delivery };
      this.cursor = seq;
      this.onDisk--;
      this.done(seq);
      s.drop(d, "queue_full");
      return true;
    }
    if (this.#reading) return false;
    const at = this.#store.batch.dropOldest(this.sid, this.cursor);
    this.onDisk--;
    this.#store.after((r, result) => {
      const body = r === null && result && "dropped" in result ? result.dropped?.[at] : null;
      if (!body) return s.dropUnread("queue_full"); // refused, or no row: counted only
      const message = decodeMessage(body);
      s.drop({ message, qos: message.qos, retain: false, subscriptionIds: [] }, "queue_full");
    });
    return true;
  }

  /** PUBACK, PUBCOMP, a failed PUBREC or a drop of an inflight entry: its row goes. */
  done(seq: number): void {
    this.#store.batch.done(this.sid, seq);
  }

  /** PUBREC: only the PUBREL remains; it goes once that is committed. */
  pubrel(s: DurableHost, entry: InflightEntry): void {
    this.#store.batch.pubrel(this.sid, entry.seq!);
    entry.pending = true;
    this.#store.after(() => {
      entry.pending = false;
      if (s.inflightGet(entry.packetId) === entry && s.connected()) s.sendPubrel(entry.packetId);
    });
  }

  /** The window has room (or the session resumed): read the next rows from the store. */
  pump(s: DurableHost): void {
    if (this.onDisk <= 0 || !s.connected() || s.congested()) return;
    if (this.#cached() > 0) {
      this.#takeCached(s);
      if (this.onDisk <= 0 || this.#cached() > 0) return;
    }
    if (this.#reading) return;
    const free = s.inflightFree();
    // After a restart the inflight rows come first whatever the window: read them anyway.
    if (free <= 0 && this.cursor > 0) return;
    this.#reading = true;
    const limit = Math.min(MAX_PAGE, Math.max(1, free));
    this.#store.read(
      { kind: "outgoing", sid: this.sid, afterSeq: this.cursor, limit },
      (rows) => {
        this.#reading = false;
        if (rows instanceof StoreError) return;
        this.#take(s, rows);
      },
    );
  }

  /** The session went offline: the cached rows stay on disk only. */
  offline(): void {
    this.#cache = [];
    this.#cacheHead = 0;
  }

  #cached(): number {
    return this.#cache.length - this.#cacheHead;
  }

  /** Moves cached rows into the window while it has room. */
  #takeCached(s: DurableHost): void {
    const now = s.now();
    while (this.#cached() > 0 && s.inflightFree() > 0) {
      const { seq, d } = this.#cache[this.#cacheHead]!;
      this.#cache[this.#cacheHead++] = undefined as unknown as { seq: number; d: Delivery };
      this.cursor = seq;
      this.onDisk--;
      if (isExpired(d.message, now)) {
        this.done(seq);
        s.drop(d, "expired");
        continue;
      }
      const packetId = s.claimPacketId();
      this.#store.batch.sent(this.sid, seq, packetId);
      this.#sendAfterCommit(s, { packetId, delivery: d, phase: "publish", sentAt: now, seq });
    }
    if (this.#cacheHead > 256 && this.#cacheHead * 2 > this.#cache.length) {
      this.#cache = this.#cache.slice(this.#cacheHead);
      this.#cacheHead = 0;
    }
  }

  /**
   * Puts `entry` in the window and sends it: QoS 1 at once (a crash before the commit at worst
   * sends it again after the restart, which QoS 1 allows); QoS 2 only once its row (with this
   * packet id) is committed, or a crash could deliver it twice under two packet ids.
   */
  #sendAfterCommit(s: DurableHost, entry: InflightEntry): void {
    s.inflightInsert(entry);
    if (entry.delivery.qos === 1) {
      this.#sendStored(s, entry, null);
      return;
    }
    entry.pending = true;
    this.#store.after((r) => this.#sendStored(s, entry, r));
  }

  /** Rows read from the store, in seq order. */
  #take(s: DurableHost, rows: readonly OutgoingRow[]): void {
    const now = s.now();
    let took = 0;
    for (const row of rows) {
      if (row.seq <= this.cursor) continue;
      if (row.phase === Phase.Pubrel) {
        const entry = {
          packetId: row.packetId,
          delivery: PUBREL_DELIVERY,
          phase: "pubrel" as const,
        };
        s.inflightInsert({ ...entry, sentAt: now, seq: row.seq });
        if (s.connected()) s.sendPubrel(row.packetId);
      } else {
        const d: Delivery = {
          message: decodeMessage(row.body!),
          qos: row.qos,
          retain: row.retain,
          subscriptionIds: row.subIds,
          ...(row.shared ? { shared: row.shared } : {}),
        };
        if (row.phase === Phase.Sent) {
          // Sent before the restart: the same packet id, with DUP [MQTT-4.4.0-1].
          s.inflightInsert({
            packetId: row.packetId,
            delivery: d,
            phase: "publish",
            sentAt: now,
            seq: row.seq,
          });
          if (s.connected()) s.sendPublish(row.packetId, d, true);
        } else if (!s.connected() || s.congested()) break;
        else if (isExpired(d.message, now)) {
          this.done(row.seq);
          s.drop(d, "expired");
        } else if (d.qos === 0) {
          if (!s.sendPublish(0, d, false)) s.drop(d, "too_large");
          this.done(row.seq);
        } else if (s.inflightFree() <= 0) break;
        else {
          const packetId = s.claimPacketId();
          this.#store.batch.sent(this.sid, row.seq, packetId);
          this.#sendAfterCommit(s, {
            packetId,
            delivery: d,
            phase: "publish",
            sentAt: now,
            seq: row.seq,
          });
        }
      }
      this.cursor = row.seq;
      this.onDisk--;
      took++;
    }
    if (took > 0) this.pump(s); // more on disk and room left: the next page
  }

  /** The row of `entry` is committed: send it now, if it is still wanted. */
  #sendStored(s: DurableHost, entry: InflightEntry, r: CommitOutcome): void {
    entry.pending = false;
    if (s.inflightGet(entry.packetId) !== entry) return; // acknowledged or cleared meanwhile
    if (r !== null) {
      // Not stored (a full store refused it with the publish): nobody has it, drop it here.
      s.inflightDelete(entry.packetId);
      s.drop(entry.delivery, "queue_full");
      s.pump(s.now());
      return;
    }
    if (!s.connected()) return; // resent with DUP when the session resumes
    entry.sentAt = s.now();
    if (!s.sendPublish(entry.packetId, entry.delivery, false)) {
      s.inflightDelete(entry.packetId);
      this.done(entry.seq!);
      s.drop(entry.delivery, "too_large");
      s.pump(s.now());
    }
  }
}
