/**
 * Keys of partitioned rows. Sessions and delayed messages have integer keys whose high bits are
 * their partition (0..1023): `key = partition * 2^32 + n`, n in [1, 2^32). A shard then loads its
 * partitions with range scans on the primary key, and the store opens with any shard count: the
 * partition of a row never changes, only which shard owns it. The partition of a key itself
 * (client id or topic) is computed by the caller (src/ipc/partition.ts); the store only checks
 * the range. Pure functions; no I/O.
 */

import { PARTITION_COUNT } from "../ipc/mod.ts";

/**
 * Virtual partitions: the one count of src/ipc/partition.ts (issue 11, item 5), whose
 * partitionOf/shardOf place the rows' client ids and topics. One constant, so the store and the
 * shards can never disagree.
 */
export const PARTITIONS = PARTITION_COUNT;
/** Keys per partition. */
export const KEYS_PER_PARTITION = 2 ** 32;

/**
 * The key of the n-th row of `partition`.
 *
 * @example
 * ```ts
 * import { makeKey, partitionOfKey } from "./keys.ts";
 * import assert from "node:assert/strict";
 * assert.ok(partitionOfKey(makeKey(1023, 7)) === 1023);
 * ```
 */
export function makeKey(partition: number, n: number): number {
  checkPartition(partition);
  if (!Number.isInteger(n) || n < 1 || n >= KEYS_PER_PARTITION) {
    throw new RangeError(`Key number ${n} is outside 1..2^32-1`);
  }
  return partition * KEYS_PER_PARTITION + n;
}

/** The partition a key belongs to. */
export function partitionOfKey(key: number): number {
  return Math.floor(key / KEYS_PER_PARTITION);
}

/** Throws RangeError unless `p` is an integer partition 0..1023. */
export function checkPartition(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p >= PARTITIONS) {
    throw new RangeError(`Partition ${p} is outside 0..${PARTITIONS - 1}`);
  }
}

/**
 * Merges a set of partitions into sorted inclusive ranges [first, last], which the store turns
 * into key ranges. Duplicates are ignored.
 *
 * @example
 * ```ts
 * import { partitionRanges } from "./keys.ts";
 * import assert from "node:assert/strict";
 * assert.ok(JSON.stringify(partitionRanges([3, 1, 2, 7])) === "[[1,3],[7,7]]");
 * ```
 */
export function partitionRanges(partitions: Iterable<number>): [number, number][] {
  const sorted = [...new Set(partitions)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const p of sorted) {
    checkPartition(p);
    const last = out[out.length - 1];
    if (last && last[1] === p - 1) last[1] = p;
    else out.push([p, p]);
  }
  return out;
}

/** Inclusive key ranges covering every key of `partitions`. */
export function keyRanges(partitions: Iterable<number>): [number, number][] {
  return partitionRanges(partitions).map(([a, b]) => [
    a * KEYS_PER_PARTITION,
    (b + 1) * KEYS_PER_PARTITION - 1,
  ]);
}

/** Every partition, for a single-shard broker or tools. */
export function allPartitions(): number[] {
  return Array.from({ length: PARTITIONS }, (_, i) => i);
}
