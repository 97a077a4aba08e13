/**
 * What a Session records about its client beside its deliveries: the subscriptions with their
 * granted options, the inbound QoS 2 packet ids awaiting PUBREL [MQTT-4.3.3], the expiry and the
 * last connection, and the per-reason drop counters. Private to src/shard/: the base of
 * SessionWindow (_session_window.ts) and so of Session (session.ts). Pure data: no socket, ring
 * or timer.
 *
 * @module
 */

import type { Delivery } from "./delivery.ts";
import type { ConnectionView } from "./last_connection.ts";

/** Subscription options as granted [MQTT-3.8.3.1]. */
export interface SubOptions {
  readonly qos: 0 | 1 | 2;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionId: number;
}

/** Counters a Session reports to its shard for dropped deliveries. */
export type DropReason = "queue_full" | "qos0_offline" | "expired" | "too_large";

const NO_SUBSCRIPTIONS: ReadonlyMap<string, SubOptions> = new Map();
const NO_RELS: ReadonlyMap<number, number> = new Map();

/** See the file header. */
export class SessionRecords {
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

  /** Epoch ms when the session was created (the API's created_at). */
  readonly createdAt: number;

  constructor(clientId: string, expiryInterval: number, createdAt: number) {
    this.clientId = clientId;
    this.createdAt = createdAt;
    this.expiryInterval = expiryInterval;
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

  /** Counts a dropped delivery by its reason (the caller then tells the shard). */
  protected countDrop(reason: DropReason): void {
    if (reason === "queue_full") this.droppedQueueFull++;
    else if (reason === "qos0_offline") this.droppedQos0Offline++;
    else if (reason === "expired") this.droppedExpired++;
    else this.droppedTooLarge++;
  }

  /** Forgets the awaiting-PUBREL ids and the subscriptions (Session.clear). */
  protected clearRecords(): void {
    this.#awaitingRel = null;
    this.#subscriptions = null;
  }
}
