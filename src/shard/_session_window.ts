/**
 * The delivery side of a Session: the outgoing inflight window and queue, packet id allocation,
 * socket congestion, resend on resume, and the durable queue's port onto them. It talks to the
 * current connection only through the SessionOutput port, so it holds no socket, ring or timer.
 * Private to src/shard/: Session (session.ts) extends it; what it records about the client beside
 * deliveries is SessionRecords (_session_records.ts).
 *
 * @module
 */

import type { MqttConfig } from "../config/types.ts";
import { isExpired } from "../mqtt/mod.ts";
import type { Delivery } from "./delivery.ts";
import { Inflight, type InflightEntry } from "./inflight.ts";
import { MQueue } from "./mqueue.ts";
import type { DurableHost, DurableQueue } from "./_durable_session.ts";
import { type DropReason, SessionRecords } from "./_session_records.ts";

/** What a Session needs from the connection it is bound to. */
export interface SessionOutput {
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean;
  sendPubrel(packetId: number): void;
}

/** See the file header. */
export class SessionWindow extends SessionRecords {
  #inflight: Inflight;
  /** Made on the first delivery that has to wait; most idle clients never have one. */
  #queue: MQueue | null = null;
  readonly #mqtt: MqttConfig;
  #output: SessionOutput | null = null;
  #nextPacketId = 1;
  /** The socket's pending output is over its high watermark: hold deliveries in the queue. */
  #congested = false;
  /** Callers waiting for the backlog to clear (a disc retained lookup's next page). */
  #unblockWaiters: (() => void)[] | null = null;

  /**
   * Durable mode, persistent session: its rows in the store and its on-disk queue. Null in
   * memory mode, where nothing of the store is touched.
   */
  durable: DurableQueue | null = null;
  /** The durable queue's port onto this session, made with it. */
  #host: DurableHost | null = null;

  constructor(clientId: string, mqtt: MqttConfig, expiryInterval: number, createdAt = 0) {
    super(clientId, expiryInterval, createdAt);
    this.#inflight = new Inflight(mqtt.maxInflight);
    this.#mqtt = mqtt;
  }

  get connected(): boolean {
    return this.#output !== null;
  }

  get inflightSize(): number {
    return this.#inflight.size;
  }

  get queueLength(): number {
    return this.#queue?.length ?? 0;
  }

  /** Binds a connection; the window is the smaller of ours and the client's Receive Maximum. */
  attach(output: SessionOutput, receiveMaximum: number): void {
    this.#output = output;
    this.disconnectedAt = 0;
    this.#inflight.resize(Math.max(1, Math.min(this.#mqtt.maxInflight, receiveMaximum)));
  }

  detach(now: number): void {
    this.durable?.offline();
    this.#output = null;
    this.#congested = false;
    this.disconnectedAt = now;
    this.#runUnblocked();
  }

  /**
   * True while more deliveries would only pile up: the socket is congested or the queue holds
   * half its bound (then a burst such as a page of retained messages would be dropped). Never
   * true offline: a queue of an offline session fills and drops by its own policy.
   */
  get backlogged(): boolean {
    if (this.#output === null) return false;
    return this.#congested || this.queueLength * 2 >= this.#mqtt.maxMqueueLen;
  }

  /** Runs `fn` once the session is no longer backlogged (or detached). */
  whenUnblocked(fn: () => void): void {
    if (!this.backlogged) return fn();
    (this.#unblockWaiters ??= []).push(fn);
  }

  #runUnblocked(): void {
    const waiters = this.#unblockWaiters;
    if (waiters === null || this.backlogged) return;
    this.#unblockWaiters = null;
    for (const fn of waiters) fn();
  }

  /**
   * Socket congestion from the supervisor (EMQX's send-queue congestion): while on, new
   * deliveries wait in the bounded queue instead of piling up in the socket's write buffer.
   */
  setCongested(on: boolean, now: number): void {
    this.#congested = on;
    if (!on) this.#pump(now);
  }

  /**
   * Resumes after a reconnect: resend every unacknowledged PUBLISH with DUP set and every
   * pending PUBREL, in original order [MQTT-4.4.0-1], then move queued messages into the window.
   */
  resume(now: number): void {
    const out = this.#output;
    if (!out) return;
    for (const entry of this.#inflight.values()) {
      if (entry.pending) continue; // its commit's answer sends it
      entry.sentAt = now;
      if (entry.phase === "pubrel") out.sendPubrel(entry.packetId);
      else out.sendPublish(entry.packetId, entry.delivery, true);
    }
    this.#pump(now);
  }

  /** Takes one delivery: straight out if connected and the window allows, else queued. */
  deliver(d: Delivery, now: number): void {
    if (this.durable) {
      this.durable.deliver(this.#durableHost(), d, now);
      return;
    }
    const out = this.#output;
    const free = !this.#congested && this.queueLength === 0;
    if (out && free && (d.qos === 0 || !this.#inflight.isFull())) {
      this.#send(out, d, now);
      return;
    }
    const r = (this.#queue ??= new MQueue({
      maxLen: this.#mqtt.maxMqueueLen,
      dropPolicy: this.#mqtt.mqueueDropPolicy,
      storeQos0: this.#mqtt.mqueueStoreQos0,
    })).enqueue(d);
    if (r.dropped) this.#drop(r.dropped, r.reason);
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) ends a delivery; returns it (undefined for unknown ids). */
  complete(packetId: number, now: number): Delivery | undefined {
    const entry = this.#inflight.delete(packetId);
    if (entry) {
      if (entry.seq !== undefined) this.durable?.done(entry.seq);
      this.#pump(now);
    }
    return entry?.delivery;
  }

  /** PUBREC: the QoS 2 delivery moves to its second half; a failure code ends it. */
  received(packetId: number, failed: boolean, now: number): boolean {
    const entry = this.#inflight.get(packetId);
    if (!entry || entry.delivery.qos !== 2) return false;
    if (entry.phase === "pubrel") {
      // A repeated PUBREC: the id is in use until PUBCOMP, so PUBREL again [MQTT-4.3.3-4]
      // (not 0x92, "not found"); a durable PUBREL still waiting for its commit goes then.
      if (!failed && !entry.pending) this.#output?.sendPubrel(packetId);
      return true;
    }
    if (entry.phase !== "publish") return false;
    if (failed) {
      this.#inflight.delete(packetId);
      if (entry.seq !== undefined) this.durable?.done(entry.seq);
      this.#pump(now);
      return true;
    }
    entry.phase = "pubrel";
    entry.sentAt = now;
    if (this.durable && entry.seq !== undefined) {
      // PUBREL only once PUBREC is committed: the client forgets the id at PUBREL, so a crash
      // before the commit would otherwise resend a PUBLISH it takes for a new message.
      this.durable.pubrel(this.#durableHost(), entry);
      return true;
    }
    this.#output?.sendPubrel(packetId);
    return true;
  }

  /** Entries unacknowledged for longer than `interval`, for 3.1.1-style retries. */
  *stale(now: number, interval: number): Generator<InflightEntry> {
    for (const entry of this.#inflight.values()) {
      if (!entry.pending && now - entry.sentAt >= interval) yield entry;
    }
  }

  /** Resends one entry as retry_interval asks (DUP on PUBLISH). */
  retry(entry: InflightEntry, now: number): void {
    const out = this.#output;
    if (!out) return;
    entry.sentAt = now;
    if (entry.phase === "pubrel") out.sendPubrel(entry.packetId);
    else out.sendPublish(entry.packetId, entry.delivery, true);
  }

  /** Durable mode: reads the next rows of the disk queue if the window has room. */
  pumpStore(now: number): void {
    if (this.durable) this.#pump(now);
  }

  /** Drops all delivery state (clean start, or expiry). */
  clear(): void {
    this.durable = null;
    this.#inflight.clear();
    this.#queue = null;
    this.clearRecords();
  }

  /** The inflight window, for Session's handover of deliveries (session.ts). */
  protected get inflight(): Inflight {
    return this.#inflight;
  }

  /** The queue, if one was made, for Session's handover of deliveries. */
  protected get queue(): MQueue | null {
    return this.#queue;
  }

  /** Moves queued deliveries into the window as it allows (after a handover took some). */
  protected pump(now: number): void {
    this.#pump(now);
  }

  /** The queue's bound, which also bounds Session's hold. */
  protected get maxQueueLength(): number {
    return this.#mqtt.maxMqueueLen;
  }

  #pump(now: number): void {
    if (this.durable) {
      this.durable.pump(this.#durableHost());
      return;
    }
    const out = this.#output;
    if (!out) return;
    while (!this.#congested) {
      const d = this.#queue?.peek();
      if (!d || (d.qos > 0 && this.#inflight.isFull())) break;
      this.#queue!.dequeue();
      this.#send(out, d, now);
    }
    if (this.#unblockWaiters !== null) this.#runUnblocked();
  }

  #send(out: SessionOutput, d: Delivery, now: number): void {
    if (isExpired(d.message, now)) {
      this.#drop(d, "expired");
      return;
    }
    if (d.qos === 0) {
      if (!out.sendPublish(0, d, false)) this.#drop(d, "too_large");
      return;
    }
    const packetId = this.#allocatePacketId();
    if (!out.sendPublish(packetId, d, false)) {
      // Too large for this client: dropped for it alone, no packet id consumed [MQTT-3.1.2-25].
      this.#drop(d, "too_large");
      return;
    }
    this.#inflight.insert({ packetId, delivery: d, phase: "publish", sentAt: now });
  }

  /** Counts a dropped delivery here, then tells the shard (its metrics, the hook). */
  #drop(d: Delivery, reason: DropReason): void {
    this.countDrop(reason);
    this.onDrop?.(d, reason);
  }

  /** The port the durable queue acts on this session through (made once, on first use). */
  #durableHost(): DurableHost {
    if (this.#host) return this.#host;
    const inflight = this.#inflight;
    return this.#host = {
      connected: () => this.#output !== null,
      congested: () => this.#congested,
      inflightFree: () => Math.max(0, inflight.max - inflight.size),
      inflightGet: (id) => inflight.get(id),
      inflightInsert: (e) => inflight.insert(e),
      inflightDelete: (id) => void inflight.delete(id),
      claimPacketId: () => this.#allocatePacketId(),
      sendPublish: (id, d, dup) => this.#output?.sendPublish(id, d, dup) ?? false,
      sendPubrel: (id) => this.#output?.sendPubrel(id),
      drop: (d, reason) => this.#drop(d, reason),
      dropUnread: (reason) => {
        if (reason === "queue_full") this.droppedQueueFull++;
        this.onDropUnread?.(reason);
      },
      pump: (now) => this.#pump(now),
      now: () => Date.now(),
    };
  }

  #allocatePacketId(): number {
    // The window is at most 65535 wide, so a free id always exists when not full.
    for (;;) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id >= 65535 ? 1 : id + 1;
      if (!this.#inflight.has(id)) return id;
    }
  }
}
