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

  /** Every filter with the shards that subscribe to it (for listings). */
  *entries(): Generator<[string, number[]]> {
    for (const filter of this.#trie.filters()) {
      const shards = [...(this.#trie.get(filter)?.keys() ?? [])].map(Number);
      yield [filter, shards];
    }
  }

  /** Distinct filters in the table (the `topics` statistic). */
  get size(): number {
    return this.#trie.size;
  }

  /** Puts into `into` (reset first) the shards with a subscriber whose filter matches `topic`. */
  matchShards(topic: string, into: ShardMatch): ShardMatch {
    into.reset();
    this.#trie.match(topic, (_filter, entries) => {
      for (const key of entries.keys()) into.add(Number(key));
    });
    return into;
  }
}

/**
 * The shards one message goes to: a set of shard indexes that a broker reuses for every message.
 * Typed arrays rather than a Set: emptying a long-lived Set with clear() leaves the dropped hash
 * table linked to its successor, and once one such table reaches V8's old generation every later
 * one survives the young-generation collections that follow (measured: a few MB promoted per
 * scavenge at 5,000 msg/s, and the scavenges that long are the latency tail; docs/architecture.md).
 */
export class ShardMatch {
  readonly #marked: Uint8Array;
  readonly #list: Int32Array;
  #size = 0;

  constructor(shardCount: number) {
    this.#marked = new Uint8Array(shardCount);
    this.#list = new Int32Array(shardCount);
  }

  /** Number of shards in the set. */
  get size(): number {
    return this.#size;
  }

  add(shard: number): void {
    if (shard < 0 || shard >= this.#marked.length || this.#marked[shard] === 1) return;
    this.#marked[shard] = 1;
    this.#list[this.#size++] = shard;
  }

  has(shard: number): boolean {
    return this.#marked[shard] === 1;
  }

  /** The k-th shard added (0 <= k < size). */
  at(k: number): number {
    return this.#list[k] ?? -1;
  }

  reset(): void {
    for (let k = 0; k < this.#size; k++) this.#marked[this.#list[k] ?? 0] = 0;
    this.#size = 0;
  }
}
