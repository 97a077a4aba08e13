/**
 * Retainer: the retained messages whose topic hashes to this shard [MQTT-3.3.1-5]. Stores,
 * replaces and clears (empty payload) by topic and answers queries by filter. Bounded by a count;
 * over the bound a new topic is refused (an existing one may still be replaced).
 */

import type { RetainerConfig } from "../config/types.ts";
import type { Message } from "../mqtt/message.ts";
import { matches } from "../mqtt/topic.ts";

/** Outcome of a store, for metrics and logs. */
export type RetainResult = "stored" | "cleared" | "refused" | "too_large";

/** This shard's part of the retained store. */
export class Retainer {
  readonly #messages = new Map<string, Message>();
  readonly #maxMessages: number;
  readonly #maxPayload: number;

  /** `shardCount` splits the broker-wide bound evenly (topics hash uniformly). */
  constructor(config: RetainerConfig, shardCount: number) {
    this.#maxMessages = config.maxRetainedMessages > 0
      ? Math.ceil(config.maxRetainedMessages / shardCount)
      : 0;
    this.#maxPayload = config.maxPayloadSize;
  }

  get size(): number {
    return this.#messages.size;
  }

  store(message: Message): RetainResult {
    if (message.payload.byteLength === 0) {
      this.#messages.delete(message.topic); // [MQTT-3.3.1-6]
      return "cleared";
    }
    if (message.payload.byteLength > this.#maxPayload) return "too_large";
    const full = this.#maxMessages > 0 && this.#messages.size >= this.#maxMessages;
    if (full && !this.#messages.has(message.topic)) return "refused";
    this.#messages.set(message.topic, message);
    return "stored";
  }

  /** Retained messages matching `filter` that have not expired. */
  query(filter: string, now: number): Message[] {
    const out: Message[] = [];
    if (!filter.includes("+") && !filter.includes("#")) {
      const m = this.#messages.get(filter);
      if (m) this.#keepLive(m, now, out);
      return out;
    }
    for (const m of this.#messages.values()) {
      if (matches(filter, m.topic)) this.#keepLive(m, now, out);
    }
    return out;
  }

  #keepLive(m: Message, now: number, out: Message[]): void {
    if (m.expiresAt !== 0 && m.expiresAt <= now) {
      this.#messages.delete(m.topic); // [MQTT-3.3.2-5]: expired retained messages go too
      return;
    }
    out.push(m);
  }
}
