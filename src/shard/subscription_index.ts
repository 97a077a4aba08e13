/**
 * SubscriptionIndex: this shard's filter → subscribers (client id → options). It reports when a
 * filter gains its first or loses its last local subscriber, which is when the replicated
 * RouteTable must change. Knows nothing about sessions beyond their client ids.
 */

import type { SubOptions } from "./session.ts";
import { TopicTrie } from "./topic_trie.ts";

/** Per-client result of a match: the strongest QoS and every subscription id that matched. */
export interface Subscriber {
  qos: 0 | 1 | 2;
  retainAsPublished: boolean;
  subscriptionIds: number[];
}

// Shared by every match without subscription identifiers (most): never pushed to.
const NO_IDS: number[] = [];

/** Local subscriptions of one shard. */
export class SubscriptionIndex {
  readonly #trie = new TopicTrie<SubOptions>();
  #count = 0;

  /** Subscriptions (filter, client) pairs on this shard. */
  get count(): number {
    return this.#count;
  }

  /** Adds or replaces; returns true when the filter had no local subscriber before. */
  add(filter: string, clientId: string, opts: SubOptions): boolean {
    const existing = this.#trie.get(filter);
    if (!existing?.has(clientId)) this.#count++;
    return this.#trie.add(filter, clientId, opts);
  }

  /** Returns true when the filter has no local subscriber left. */
  remove(filter: string, clientId: string): boolean {
    const existing = this.#trie.get(filter);
    if (!existing?.has(clientId)) return false;
    this.#count--;
    return this.#trie.remove(filter, clientId);
  }

  /** Every filter with at least one local subscriber (sent to a restarted peer shard). */
  filters(): Iterable<string> {
    return this.#trie.filters();
  }

  /**
   * Subscribers of `topic`, one entry per client [MQTT-3.3.4-2]: QoS is the maximum of the
   * matching subscriptions, and a no-local subscription never matches the publisher itself.
   */
  match(topic: string, origin: string): Map<string, Subscriber> {
    const out = new Map<string, Subscriber>();
    this.#trie.match(topic, (_filter, entries) => {
      for (const [clientId, opts] of entries) {
        if (opts.noLocal && clientId === origin) continue; // [MQTT-3.8.3-3]
        const seen = out.get(clientId);
        if (!seen) {
          out.set(clientId, {
            qos: opts.qos,
            retainAsPublished: opts.retainAsPublished,
            subscriptionIds: opts.subscriptionId > 0 ? [opts.subscriptionId] : NO_IDS,
          });
          continue;
        }
        if (opts.qos > seen.qos) seen.qos = opts.qos;
        if (opts.retainAsPublished) seen.retainAsPublished = true;
        if (opts.subscriptionId > 0) {
          if (seen.subscriptionIds === NO_IDS) seen.subscriptionIds = [opts.subscriptionId];
          else seen.subscriptionIds.push(opts.subscriptionId);
        }
      }
    });
    return out;
  }
}
