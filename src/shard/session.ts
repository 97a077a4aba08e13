/**
 * Session: the MQTT session state of one client id [MQTT-4.1] — subscriptions, the outgoing
 * inflight window and queue, packet id allocation, and the awaiting-PUBREL set of inbound QoS 2.
 * It outlives connections (persistent sessions) and talks to its current connection only through
 * the SessionOutput port, so it holds no socket, ring or timer.
 */

import type { MqttConfig } from "../config/types.ts";
import { isExpired } from "../mqtt/mod.ts";
import type { Delivery } from "./delivery.ts";
import { Inflight, type InflightEntry } from "./inflight.ts";
import { MQueue } from "./mqueue.ts";
import type { DurableHost, DurableQueue } from "./_durable_session.ts";
import type { ConnectionView } from "./last_connection.ts";

/** Subscription options as granted [MQTT-3.8.3.1]. */
export interface SubOptions {
  readonly qos: 0 | 1 | 2;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionId: number;
}

/** What a Session needs from the connection it is bound to. */
export interface SessionOutput {
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean;
  sendPubrel(packetId: number): void;
}

/** Counters a Session reports to its shard for dropped deliveries. */
export type DropReason = "queue_full" | "qos0_offline" | "expired" | "too_large";

const NO_SUBSCRIPTIONS: ReadonlyMap<string, SubOptions> = new Map();
const NO_RELS: ReadonlyMap<number, number> = new Map();

/** Session state; one per client id on the shard that owns the id. */
export class Session {
  readonly clientId: string;
  // Both Maps are made on first use: an idle client has neither, and an empty Map costs about
  // 250 bytes (bench connections scenario).
  #subscriptions: Map<string, SubOptions> | null = null;
  #awaitingRel: Map<number, number> | null = null;
  /** Milliseconds the session lives after its connection ends; Infinity = never expires. */
  expiryInterval: number;
  /** When the last connection ended, for expiry; 0 while connected. */
  disconnectedAt = 0;
  /** The ended connection's facts, shown while disconnected (set by the Channel at its end). */
  lastConnection: ConnectionView | null = null;
  onDrop: ((d: Delivery, reason: DropReason) => void) | null = null;
  /**
   * A durable queue dropped a row whose message it could not get back (drop_oldest on disk in
   * a refused commit): counted only.
   */
  onDropUnread: ((reason: DropReason) => void) | null = null;
  /**
   * Deliveries to this session dropped, by reason (EMQX's per-client `mqueue_dropped` and
   * `send_msg.dropped.*`): plain numbers, kept for the session's life.
   */
  droppedQueueFull = 0;
  droppedQos0Offline = 0;
  droppedExpired = 0;
  droppedTooLarge = 0;

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
   * Deliveries held back while a session moved from another node waits for that node's
   * pendings (TAKEOVER_END): they are newer, so they go out after them. Null when not holding.
   */
  #held: Delivery[] | null = null;

  /** Epoch ms when the session was created (the API's created_at). */
  readonly createdAt: number;
  /**
   * Durable mode, persistent session: its rows in the store and its on-disk queue. Null in
   * memory mode, where nothing of the store is touched.
   */
  durable: DurableQueue | null = null;
  /** The durable queue's port onto this session, made with it. */
  #host: DurableHost | null = null;

  constructor(clientId: string, mqtt: MqttConfig, expiryInterval: number, createdAt = 0) {
    this.clientId = clientId;
    this.createdAt = createdAt;
    this.expiryInterval = expiryInterval;
    this.#inflight = new Inflight(mqtt.maxInflight);
    this.#mqtt = mqtt;
  }

  /** Filter → granted options. */
  get subscriptions(): ReadonlyMap<string, SubOptions> {
    return this.#subscriptions ?? NO_SUBSCRIPTIONS;
  }

  setSubscription(filter: string, opts: SubOptions): void {
    (this.#subscriptions ??= new Map()).set(filter, opts);
  }

  /** False when there was no such subscription. */
  deleteSubscription(filter: string): boolean {
    return this.#subscriptions?.delete(filter) ?? false;
  }

  /** Inbound QoS 2 packet ids between PUBREC and PUBREL, with arrival time [MQTT-4.3.3]. */
  get awaitingRel(): ReadonlyMap<number, number> {
    return this.#awaitingRel ?? NO_RELS;
  }

  awaitRel(packetId: number, now: number): void {
    (this.#awaitingRel ??= new Map()).set(packetId, now);
  }

  /** False when the id was not awaiting a PUBREL. */
  releaseRel(packetId: number): boolean {
    return this.#awaitingRel?.delete(packetId) ?? false;
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
    // Past the queue's own bound the hold gives way (order may then break; nothing is lost).
    if (this.#held !== null && this.#held.length < this.#mqtt.maxMqueueLen) {
      this.#held.push(d);
      return;
    }
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
    if (!entry || entry.phase !== "publish" || entry.delivery.qos !== 2) return false;
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

  /**
   * Takes back the QoS 1 deliveries of shared subscriptions that the client has not acknowledged
   * (queued, or sent without PUBACK) and that `pred` selects, so another group member can have
   * them. QoS 2 stays: the spec has it completed with this client [MQTT-4.8.2-4/-5].
   */
  takeShared(pred: (d: Delivery) => boolean, now: number): Delivery[] {
    // A persistent session's rows are in the store: they stay with it (no second copy).
    if (this.durable) return [];
    const select = (d: Delivery) => d.shared !== undefined && d.qos === 1 && pred(d);
    const taken: Delivery[] = [];
    for (const entry of [...this.#inflight.values()]) {
      if (entry.phase === "publish" && select(entry.delivery)) {
        this.#inflight.delete(entry.packetId);
        taken.push(entry.delivery);
      }
    }
    if (this.#queue) taken.push(...this.#queue.removeWhere(select));
    if (taken.length > 0) this.#pump(now);
    return taken;
  }

  /**
   * Takes what the session still owes the client, for another node (the session moves): the
   * inflight entries in send order with their packet ids and phases (a QoS 2 one after PUBREC
   * waits for PUBCOMP: its PUBREL is resent there), then the queue. Durable entries not yet
   * committed (`pending`) are the store's: the caller reads the rows instead.
   */
  takeForMove(): { inflight: InflightEntry[]; queued: Delivery[] } {
    const inflight = [...this.#inflight.values()].filter((e) => !e.pending);
    this.#inflight.clear();
    const queued = this.#queue ? this.#queue.removeWhere(() => true) : [];
    return { inflight, queued };
  }

  /**
   * An inflight entry of a session moved from another node, with its packet id: resent (PUBLISH
   * with DUP, or PUBREL) when the client resumes [MQTT-4.4.0-1]. Durable: `seq` is the row the
   * caller wrote for it (its ack deletes the row). Call before attach().
   */
  adoptInflight(
    entry: { packetId: number; delivery: Delivery; phase: "publish" | "pubrel"; seq?: number },
    now: number,
  ): void {
    this.#inflight.insert({ ...entry, sentAt: now });
  }

  /** Holds new deliveries until endHold() (a moved session waiting for its pendings). */
  hold(): void {
    this.#held ??= [];
  }

  /** Ends the hold; returns what was held, in arrival order, for the caller to deliver. */
  endHold(): Delivery[] {
    const held = this.#held ?? [];
    this.#held = null;
    return held;
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
    this.#awaitingRel = null;
    this.#subscriptions = null;
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
    if (reason === "queue_full") this.droppedQueueFull++;
    else if (reason === "qos0_offline") this.droppedQos0Offline++;
    else if (reason === "expired") this.droppedExpired++;
    else this.droppedTooLarge++;
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
