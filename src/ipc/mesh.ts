/**
 * The ring mesh of one node: a ring per direction between the supervisor and each shard and
 * between every pair of shards, plus one doorbell per consumer. Owns only the allocation and the
 * wiring (which ring is whose); it creates no readers or writers and never posts anything.
 */

import { createRing, type RingBuffers } from "./ring.ts";
import { createCounts, resetCounts } from "./counts.ts";
import { createDoorbell } from "./waiter.ts";

/** The rings shard i uses; handed to it in its init (and peers) message. Structured-clonable. */
export interface ShardRings {
  /** Shard i's own doorbell; every producer to shard i rings it. */
  doorbell: SharedArrayBuffer;
  fromSupervisor: RingBuffers;
  toSupervisor: RingBuffers;
  supervisorDoorbell: SharedArrayBuffer;
  /** Index j: ring j → i (null at j === i). */
  fromPeers: (RingBuffers | null)[];
  /** Index j: ring i → j (null at j === i). */
  toPeers: (RingBuffers | null)[];
  /** Index j: shard j's doorbell. */
  peerDoorbells: SharedArrayBuffer[];
  /** Broker-wide resource counters (see counts.ts), the same buffer for every shard. */
  counts: SharedArrayBuffer;
}

/** Every ring of a node. `shards[i].toPeers[j]` is the same ring as `shards[j].fromPeers[i]`. */
export interface Mesh {
  supervisorDoorbell: SharedArrayBuffer;
  shards: ShardRings[];
}

/**
 * Allocates the rings for `shardCount` shards, each ring of `ringCapacity` bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const mesh = createMesh(2, 4096);
 * assert.equal(mesh.shards[0]!.toPeers[1], mesh.shards[1]!.fromPeers[0]);
 * ```
 */
export function createMesh(shardCount: number, ringCapacity: number): Mesh {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`Cannot create mesh of ${shardCount} shards: need an integer >= 1`);
  }
  const supervisorDoorbell = createDoorbell();
  const counts = createCounts(shardCount);
  const doorbells = Array.from({ length: shardCount }, createDoorbell);
  // pair[i][j]: ring i → j.
  const pair = doorbells.map((_, i) =>
    doorbells.map((_, j) => (i === j ? null : createRing(ringCapacity)))
  );
  const shards = doorbells.map((doorbell, i): ShardRings => ({
    doorbell,
    fromSupervisor: createRing(ringCapacity),
    toSupervisor: createRing(ringCapacity),
    supervisorDoorbell,
    fromPeers: pair.map((row) => row[i] ?? null),
    toPeers: [...pair[i]!],
    peerDoorbells: [...doorbells],
    counts,
  }));
  return { supervisorDoorbell, shards };
}

/**
 * New rings for shard i (after a crash): replaces every ring touching i and i's doorbell, zeroes
 * i's resource counters, and returns the new Mesh. The old Mesh is not modified; rings not touching i are shared with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const mesh = createMesh(3, 4096);
 * const next = rebuildShard(mesh, 1, 4096);
 * assert.equal(next.shards[0]!.toPeers[2], mesh.shards[0]!.toPeers[2]); // untouched
 * assert.notEqual(next.shards[0]!.toPeers[1], mesh.shards[0]!.toPeers[1]); // replaced
 * ```
 */
export function rebuildShard(mesh: Mesh, i: number, ringCapacity: number): Mesh {
  const count = mesh.shards.length;
  if (!Number.isInteger(i) || i < 0 || i >= count) {
    throw new RangeError(`Cannot rebuild shard ${i}: mesh has ${count} shards`);
  }
  const doorbell = createDoorbell();
  const counts = mesh.shards[0]!.counts;
  resetCounts(counts, count, i);
  const toI = mesh.shards.map((_, j) => (j === i ? null : createRing(ringCapacity)));
  const fromI = mesh.shards.map((_, j) => (j === i ? null : createRing(ringCapacity)));
  const shards = mesh.shards.map((old, j): ShardRings => {
    const peerDoorbells = [...old.peerDoorbells];
    peerDoorbells[i] = doorbell;
    if (j === i) {
      return {
        doorbell,
        fromSupervisor: createRing(ringCapacity),
        toSupervisor: createRing(ringCapacity),
        supervisorDoorbell: mesh.supervisorDoorbell,
        fromPeers: toI,
        toPeers: fromI,
        peerDoorbells,
        counts,
      };
    }
    const fromPeers = [...old.fromPeers];
    const toPeers = [...old.toPeers];
    fromPeers[i] = fromI[j] ?? null;
    toPeers[i] = toI[j] ?? null;
    return { ...old, fromPeers, toPeers, peerDoorbells };
  });
  return { supervisorDoorbell: mesh.supervisorDoorbell, shards };
}
