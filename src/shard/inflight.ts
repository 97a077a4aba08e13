/**
 * Inflight: the bounded window of outgoing QoS 1/2 deliveries waiting for PUBACK, PUBREC or
 * PUBCOMP, keyed by packet id in send order. Pure data: it never sends or times anything; the
 * Session decides what to do with it. Owned by one Session.
 */

import type { Delivery } from "./delivery.ts";

/** "publish" awaits PUBACK/PUBREC; "pubrel" awaits PUBCOMP (QoS 2, second half). */
export type InflightPhase = "publish" | "pubrel";

/** One unacknowledged outgoing packet. */
export interface InflightEntry {
  readonly packetId: number;
  readonly delivery: Delivery;
  phase: InflightPhase;
  sentAt: number;
  /** Durable mode: the row's seq in the session's `outgoing` rows. */
  readonly seq?: number;
  /** Durable mode: stored in a commit not answered yet; not on the wire, never resent. */
  pending?: boolean;
}

const NONE: ReadonlyMap<number, InflightEntry> = new Map();

/**
 * Bounded packet-id → entry window; Map keeps insertion order, which is resend order. The Map is
 * made on the first QoS 1/2 delivery: most idle clients never get one, and an empty Map with its
 * table costs about 250 bytes a session.
 */
export class Inflight {
  #entries: Map<number, InflightEntry> | null = null;
  #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The window can grow or shrink (MQTT 5 Receive Maximum changes with each connection). */
  resize(max: number): void {
    this.#max = max;
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }

  /** The window's width. */
  get max(): number {
    return this.#max;
  }

  isFull(): boolean {
    return this.size >= this.#max;
  }

  has(packetId: number): boolean {
    return this.#entries?.has(packetId) ?? false;
  }

  get(packetId: number): InflightEntry | undefined {
    return this.#entries?.get(packetId);
  }

  insert(entry: InflightEntry): void {
    (this.#entries ??= new Map()).set(entry.packetId, entry);
  }

  delete(packetId: number): InflightEntry | undefined {
    const entry = this.#entries?.get(packetId);
    if (entry) this.#entries!.delete(packetId);
    return entry;
  }

  /** Entries in the order they were first sent: the order a resumed session resends them. */
  values(): IterableIterator<InflightEntry> {
    return (this.#entries ?? NONE).values();
  }

  clear(): void {
    this.#entries = null;
  }
}
