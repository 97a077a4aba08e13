/**
 * SharedCounts: broker-wide counters of bounded resources (pending delayed messages, retained
 * messages) that every shard can read and update without a round trip. One Int32 slot per
 * (counter, shard): a shard only ever writes its own slots, and the total is the sum of a
 * counter's slots. Two shards checking at the same instant may each see room for one more, so a
 * bound can be passed by at most shards - 1; when a shard restarts its slots are zeroed with it.
 */

/** The counters, by slot group. */
export const CountKind = { Delayed: 0, Retained: 1 } as const;
const KINDS = 2;

/** Allocates the counters for `shardCount` shards. Structured-clonable to workers. */
export function createCounts(shardCount: number): SharedArrayBuffer {
  return new SharedArrayBuffer(KINDS * shardCount * 4);
}

/** One shard's view of the counters; see the file header. */
export class SharedCounts {
  readonly #slots: Int32Array;
  readonly #shards: number;
  readonly #self: number;

  constructor(buffer: SharedArrayBuffer, shardCount: number, self: number) {
    this.#slots = new Int32Array(buffer);
    this.#shards = shardCount;
    this.#self = self;
  }

  /** The broker-wide value of `kind`. */
  total(kind: number): number {
    let n = 0;
    const base = kind * this.#shards;
    for (let i = 0; i < this.#shards; i++) n += Atomics.load(this.#slots, base + i);
    return n;
  }

  /** Adds `n` (may be negative) to this shard's part of `kind`. */
  add(kind: number, n: number): void {
    Atomics.add(this.#slots, kind * this.#shards + this.#self, n);
  }
}

/** Zeroes every counter slot of `shard` (its state died with it). */
export function resetCounts(buffer: SharedArrayBuffer, shardCount: number, shard: number): void {
  const slots = new Int32Array(buffer);
  for (let k = 0; k < KINDS; k++) Atomics.store(slots, k * shardCount + shard, 0);
}
