/**
 * Test helper: the broker's documented placement rule — FNV-1a 32 of a client id's (or retained
 * topic's) UTF-8 bytes, modulo 1024 partitions, spread over the shards — and client ids and
 * topics that land on a chosen shard. Pure. Re-exported by clients.ts, where suites import it.
 */

/**
 * FNV-1a 32-bit hash of the UTF-8 bytes of s (offset basis 2166136261, prime 16777619),
 * as an unsigned integer.
 */
export function fnv1a32(s: string): number {
  let h = 2166136261;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

/** Virtual partitions of the broker's placement rule. */
export const PARTITIONS = 1024;

/** The partition of a client id or retained topic: FNV-1a 32 modulo 1024. */
export function partitionOf(key: string): number {
  return fnv1a32(key) % PARTITIONS;
}

/** The shard that owns a client id or retained topic among `shardCount` shards. */
export function shardOfKey(key: string, shardCount: number): number {
  return Math.floor((partitionOf(key) * shardCount) / PARTITIONS);
}

/**
 * A client id `<prefix><n>` that lands on `shard` of `shardCount`. Ids are kept to
 * [0-9a-zA-Z] and at most 23 characters, which every server must accept [MQTT-3.1.3-5].
 */
export function clientIdForShard(shard: number, shardCount: number, prefix: string): string {
  if (!/^[0-9a-zA-Z]{1,17}$/.test(prefix)) {
    throw new RangeError(`Cannot use prefix "${prefix}": use 1 to 17 characters of [0-9a-zA-Z]`);
  }
  const target = shard % shardCount;
  for (let n = 0; n < 100_000; n++) {
    const id = `${prefix}${n}`;
    if (shardOfKey(id, shardCount) === target) return id;
  }
  throw new Error(`No id with prefix ${prefix} lands on shard ${shard} of ${shardCount}`);
}

/**
 * A topic `<prefix><n>` that lands on `shard` of `shardCount`: the shard that owns it as a
 * retained topic (the same rule as for client ids).
 */
export function topicForShard(shard: number, shardCount: number, prefix: string): string {
  const target = shard % shardCount;
  for (let n = 0; n < 100_000; n++) {
    const topic = `${prefix}${n}`;
    if (shardOfKey(topic, shardCount) === target) return topic;
  }
  throw new Error(`No topic with prefix ${prefix} lands on shard ${shard} of ${shardCount}`);
}
