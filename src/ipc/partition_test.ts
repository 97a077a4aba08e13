/**
 * Unit tests of the placement rule (src/ipc/partition.ts): partitions never depend on the shard
 * count, every partition has exactly one shard, shards get contiguous and even ranges, and keys
 * spread evenly. Pure: no isolate, no socket.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  fnv1a32,
  hashPick,
  PARTITION_COUNT,
  partitionOf,
  partitionsOfShard,
  shardOf,
  shardOfPartition,
} from "./partition.ts";

const keys = Array.from({ length: 20_000 }, (_, i) => `client-${i}-${(i * 7919) % 1000}`);

Deno.test("partitionOf() is FNV-1a 32 of the UTF-8 bytes modulo 1024", () => {
  strictEqual(PARTITION_COUNT, 1024);
  strictEqual(partitionOf(""), 0x811c9dc5 % 1024);
  strictEqual(partitionOf("a"), 0xe40c292c % 1024);
  strictEqual(partitionOf("foobar"), 0xbf9cf968 % 1024);
  strictEqual(partitionOf("é"), fnv1a32("é") % 1024);
  ok(keys.every((k) => partitionOf(k) >= 0 && partitionOf(k) < 1024));
});

Deno.test("A key's partition never depends on the shard count; its shard follows it", () => {
  for (const key of keys.slice(0, 2000)) {
    const p = partitionOf(key);
    for (let shards = 1; shards <= 16; shards++) {
      strictEqual(shardOf(key, shards), shardOfPartition(p, shards), `${key} with ${shards}`);
    }
  }
});

Deno.test("Every partition maps to exactly one shard, in contiguous ranges, for 1..16 shards", () => {
  for (let shards = 1; shards <= 16; shards++) {
    const owner = Array.from({ length: PARTITION_COUNT }, (_, p) => shardOfPartition(p, shards));
    ok(owner.every((s) => Number.isInteger(s) && s >= 0 && s < shards), `${shards} shards`);
    // Contiguous and in order: the owner never decreases and steps by one.
    for (let p = 1; p < PARTITION_COUNT; p++) {
      const step = owner[p]! - owner[p - 1]!;
      ok(step === 0 || step === 1, `partition ${p} with ${shards} shards`);
    }
    strictEqual(owner[0], 0);
    strictEqual(owner[PARTITION_COUNT - 1], shards - 1);
    // partitionsOfShard agrees with the mapping and the ranges cover 0..1023 once.
    let next = 0;
    for (let s = 0; s < shards; s++) {
      const [first, end] = partitionsOfShard(s, shards);
      strictEqual(first, next, `range of shard ${s} of ${shards}`);
      for (let p = first; p < end; p++) strictEqual(owner[p], s);
      // Even: every range holds floor or ceil of 1024 / shards partitions.
      const size = end - first;
      ok(
        size === Math.floor(1024 / shards) || size === Math.ceil(1024 / shards),
        `shard ${s} of ${shards} owns ${size} partitions`,
      );
      next = end;
    }
    strictEqual(next, PARTITION_COUNT);
  }
});

Deno.test("Doubling the shard count splits each range; halving it merges neighbours", () => {
  for (const shards of [1, 2, 4, 8]) {
    for (let p = 0; p < PARTITION_COUNT; p++) {
      strictEqual(shardOfPartition(p, shards * 2) >> 1, shardOfPartition(p, shards));
    }
  }
});

Deno.test("Keys spread evenly over partitions and shards", () => {
  const perPartition = new Array<number>(PARTITION_COUNT).fill(0);
  for (const k of keys) perPartition[partitionOf(k)]!++;
  // 20,000 keys over 1024 partitions: about 19.5 each; no partition empty or far above.
  const mean = keys.length / PARTITION_COUNT;
  ok(Math.max(...perPartition) < mean * 3, `max ${Math.max(...perPartition)}`);
  ok(perPartition.filter((n) => n === 0).length < 5, "partitions left empty");
  for (let shards = 2; shards <= 16; shards++) {
    const perShard = new Array<number>(shards).fill(0);
    for (const k of keys) perShard[shardOf(k, shards)]!++;
    const expect = keys.length / shards;
    for (const n of perShard) {
      ok(Math.abs(n - expect) < expect * 0.1, `${shards} shards: ${perShard.join(",")}`);
    }
  }
});

Deno.test("hashPick() picks an index in [0, n) by the key's hash", () => {
  deepStrictEqual([hashPick("x", 0), hashPick("x", 1)], [0, 0]);
  for (const k of keys.slice(0, 100)) strictEqual(hashPick(k, 5), fnv1a32(k) % 5);
});

Deno.test("fnv1a32() hashes the UTF-8 bytes whether a key is ASCII, mixed or not ASCII at all", () => {
  const reference = (key: string) => {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(key)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h;
  };
  for (const key of ["", "a", "client-42", "abcé", "é", "日本語", "a\u{1F600}b", "x".repeat(300)]) {
    strictEqual(fnv1a32(key), reference(key), key);
  }
});
