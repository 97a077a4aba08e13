/**
 * Partitioning: the one placement rule of client ids (supervisor) and retained topics (shards).
 * A key hashes to one of PARTITION_COUNT virtual partitions, a number that never depends on the
 * shard count; partitions map onto shards in contiguous ranges. A durable store keyed by
 * partition therefore opens with any shard count without a migration: each shard reads its range.
 * Both sides must agree or takeover breaks, so it lives here, below both. Knows strings and
 * counts, nothing of MQTT.
 *
 * Why contiguous ranges rather than `partition % shards`: a shard's partitions are one range, so a
 * store reads them with one index range scan (`partition >= first AND partition < end`) where a
 * modulo mapping scatters them over every S-th partition (1024/S lookups, or a scan no index
 * serves). When the count doubles each new shard's range lies inside one old shard's range, and
 * when it halves two neighbours merge, so the data one shard needs comes from one or two old
 * ones. Both mappings spread partitions evenly (range sizes differ by at most one partition).
 */

const encoder = new TextEncoder();

/** Number of virtual partitions. Fixed for ever: a store written with it relies on it. */
export const PARTITION_COUNT = 1024;

/**
 * FNV-1a 32-bit hash of the UTF-8 bytes of `key`.
 *
 * @example
 * ```ts
 * import { fnv1a32 } from "./partition.ts";
 * import assert from "node:assert/strict";
 * assert.ok(fnv1a32("") === 2166136261 && fnv1a32("a") === 3826002220);
 * ```
 */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  // ASCII (nearly every client id) hashes from its char codes, which are its UTF-8 bytes: no
  // encoder call and no array per connection on the supervisor's accept path.
  let i = 0;
  for (; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) break;
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  if (i === key.length) return h;
  for (const b of encoder.encode(key.slice(i))) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The partition of `key`, in [0, PARTITION_COUNT): FNV-1a 32 of its UTF-8 bytes modulo 1024.
 * It never depends on the shard count.
 *
 * @example
 * ```ts
 * import { partitionOf } from "./partition.ts";
 * import assert from "node:assert/strict";
 * assert.ok(partitionOf("a") === 3826002220 % 1024);
 * ```
 */
export function partitionOf(key: string): number {
  return fnv1a32(key) % PARTITION_COUNT;
}

/**
 * The shard that owns partition `p` when there are `shards` shards (1 to PARTITION_COUNT):
 * shard s owns the contiguous range [ceil(s·1024/S), ceil((s+1)·1024/S)).
 *
 * @example
 * ```ts
 * import { shardOfPartition } from "./partition.ts";
 * import assert from "node:assert/strict";
 * assert.ok(shardOfPartition(0, 4) === 0 && shardOfPartition(1023, 4) === 3);
 * assert.ok(shardOfPartition(511, 2) === 0 && shardOfPartition(512, 2) === 1);
 * ```
 */
export function shardOfPartition(p: number, shards: number): number {
  if (shards <= 1) return 0;
  return Math.floor((p * shards) / PARTITION_COUNT);
}

/**
 * The shard that owns `key` (a client id, a retained topic) among `shards` shards.
 *
 * @example
 * ```ts
 * import { partitionOf, shardOf, shardOfPartition } from "./partition.ts";
 * import assert from "node:assert/strict";
 * assert.ok(shardOf("c1", 4) === shardOfPartition(partitionOf("c1"), 4));
 * ```
 */
export function shardOf(key: string, shards: number): number {
  return shards <= 1 ? 0 : shardOfPartition(partitionOf(key), shards);
}

/**
 * The partitions shard `shard` of `shards` owns: [first, end).
 *
 * @example
 * ```ts
 * import { partitionsOfShard } from "./partition.ts";
 * import assert from "node:assert/strict";
 * const [first, end] = partitionsOfShard(1, 3); // [342, 683)
 * assert.ok(first === 342 && end === 683);
 * ```
 */
export function partitionsOfShard(shard: number, shards: number): [number, number] {
  const first = Math.ceil((shard * PARTITION_COUNT) / shards);
  const end = Math.ceil(((shard + 1) * PARTITION_COUNT) / shards);
  return [first, end];
}

/**
 * An index in [0, n) picked by the hash of `key`: for choices that are not placements (a shared
 * subscription group's member under hash_clientid / hash_topic), where n is not a shard count.
 *
 * @example
 * ```ts
 * import { fnv1a32, hashPick } from "./partition.ts";
 * import assert from "node:assert/strict";
 * assert.ok(hashPick("a", 3) === fnv1a32("a") % 3 && hashPick("a", 0) === 0);
 * ```
 */
export function hashPick(key: string, n: number): number {
  return n <= 1 ? 0 : fnv1a32(key) % n;
}
