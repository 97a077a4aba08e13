/**
 * Retainer: the retained messages whose topic hashes to this shard [MQTT-3.3.1-5]. Stores,
 * replaces and clears (empty payload) by topic and answers queries by filter. Bounded by a
 * broker-wide count (SharedCounts); over the bound a new topic is refused (an existing one may
 * still be replaced). A stored message keeps a copy of just its payload when the payload was a
 * view into a larger buffer (a socket read): see _keep.ts.
 */

import type { RetainerConfig } from "../config/types.ts";
import { CountKind, type SharedCounts } from "../ipc/mod.ts";
import { hasWildcard, isExpired, matches, type Message } from "../mqtt/mod.ts";
import { keepMessage } from "./_keep.ts";

/** Outcome of a store, for metrics and logs. */
export type RetainResult = "stored" | "cleared" | "refused" | "too_large";

/** This shard's part of the retained store. */
export class Retainer {
  readonly #messages = new Map<string, Message>();
  readonly #maxMessages: number;
  readonly #maxPayload: number;

  readonly #counts: SharedCounts;

  constructor(config: RetainerConfig, counts: SharedCounts) {
    this.#maxMessages = config.maxRetainedMessages;
    this.#maxPayload = config.maxPayloadSize;
    this.#counts = counts;
  }

  get size(): number {
    return this.#messages.size;
  }

  store(message: Message): RetainResult {
    if (message.payload.byteLength === 0) {
      this.#delete(message.topic); // [MQTT-3.3.1-6]
      return "cleared";
    }
    if (message.payload.byteLength > this.#maxPayload) return "too_large";
    if (!this.#messages.has(message.topic)) {
      const total = this.#counts.total(CountKind.Retained);
      if (this.#maxMessages > 0 && total >= this.#maxMessages) return "refused";
      this.#counts.add(CountKind.Retained, 1);
    }
    this.#messages.set(message.topic, keepMessage(message));
    return "stored";
  }

  /** Retained messages matching `filter` that have not expired. */
  query(filter: string, now: number): Message[] {
    const out: Message[] = [];
    if (!hasWildcard(filter)) {
      const m = this.#messages.get(filter);
      if (m) this.#keepLive(m, now, out);
      return out;
    }
    for (const m of this.#messages.values()) {
      if (matches(filter, m.topic)) this.#keepLive(m, now, out);
    }
    return out;
  }

  /** Every retained message of this shard, expired ones included (for listings). */
  entries(): IterableIterator<Message> {
    return this.#messages.values();
  }

  /** The retained message of one topic, if live. */
  get(topic: string, now: number): Message | undefined {
    const out: Message[] = [];
    const m = this.#messages.get(topic);
    if (m) this.#keepLive(m, now, out);
    return out[0];
  }

  /** Removes one topic's retained message (an operator's delete); false when there was none. */
  delete(topic: string): boolean {
    const had = this.#messages.has(topic);
    this.#delete(topic);
    return had;
  }

  #delete(topic: string): void {
    if (this.#messages.delete(topic)) this.#counts.add(CountKind.Retained, -1);
  }

  #keepLive(m: Message, now: number, out: Message[]): void {
    if (isExpired(m, now)) {
      this.#delete(m.topic); // [MQTT-3.3.2-5]: expired retained messages go too
      return;
    }
    out.push(m);
  }
}
