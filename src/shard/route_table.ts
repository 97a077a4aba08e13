/**
 * RouteTable: the replicated filter → shards map. Every shard holds a full copy; rows change
 * only when a shard gains its first or loses its last subscriber of a filter, so the table moves
 * far less often than messages do. It never lists subscribers.
 */

import { TopicTrie } from "./topic_trie.ts";

/** filter → set of shard indexes with local subscribers. */
export class RouteTable {
  readonly #trie = new TopicTrie<true>();

  add(filter: string, shard: number): void {
    this.#trie.add(filter, String(shard), true);
  }

  remove(filter: string, shard: number): void {
    this.#trie.remove(filter, String(shard));
  }

  /** Drops every row of one shard (it restarted with empty state). */
  removeShard(shard: number): void {
    const key = String(shard);
    for (const filter of [...this.#trie.filters()]) this.#trie.remove(filter, key);
  }

  /** Distinct filters in the table (the `topics` statistic). */
  get size(): number {
    return this.#trie.size;
  }

  /** Shards with at least one subscriber whose filter matches `topic`. */
  matchShards(topic: string, into: Set<number>): Set<number> {
    this.#trie.match(topic, (_filter, entries) => {
      for (const key of entries.keys()) into.add(Number(key));
    });
    return into;
  }
}
