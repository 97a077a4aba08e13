/**
 * Fuzz helper: the seeded pseudo-random source every fuzz decision draws from, and the seed of a
 * run. Pure except seedFromEnv(), which reads CULEX_FUZZ_SEED. Owns no other state.
 *
 * Every fuzz connection gets its own generator, derived from the run's seed and the connection's
 * index, so the bytes of connection i depend on (seed, i) alone and never on how many other
 * connections happened to run before it: a failure replays with the same seed even though the
 * scheduling of a flood does not.
 */

/** Largest seed value (seeds are unsigned 32-bit integers). */
export const MAX_SEED = 0xffff_ffff;

/** The environment variable that fixes the seed of a fuzz run. */
export const SEED_ENV = "CULEX_FUZZ_SEED";

/**
 * The seed of this run: CULEX_FUZZ_SEED when set (decimal or 0x-hex), else a fresh random one.
 * Throws a RangeError on a value that is not an unsigned 32-bit integer.
 */
export function seedFromEnv(): number {
  const raw = Deno.env.get(SEED_ENV)?.trim();
  if (raw === undefined || raw === "") return crypto.getRandomValues(new Uint32Array(1))[0] ?? 1;
  return parseSeed(raw);
}

/** Parses a seed given as decimal or 0x-hex; throws a RangeError when it is out of range. */
export function parseSeed(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SEED) {
    throw new RangeError(`Cannot use seed "${raw}": expected an integer from 0 to ${MAX_SEED}`);
  }
  return n;
}

/**
 * Mixes a seed and an index into a new 32-bit seed (a murmur3-style finalizer), so that
 * neighbouring indexes give unrelated streams.
 */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * mulberry32: a small, fast 32-bit generator, good enough to pick mutations (not for crypto).
 *
 * @example
 * ```ts
 * import { Rng } from "./prng.ts";
 * import assert from "node:assert/strict";
 * const a = new Rng(42), b = new Rng(42);
 * assert.equal(a.int(0, 1000), b.int(0, 1000));
 * ```
 */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A new generator for the index-th sub-stream of this seed (see deriveSeed). */
  static forIndex(seed: number, index: number): Rng {
    return new Rng(deriveSeed(seed, index));
  }

  /** Next unsigned 32-bit value. */
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty array");
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** One value of weighted [value, weight] pairs (weights need not sum to 1). */
  weighted<T>(pairs: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of pairs) total += w;
    let r = this.float() * total;
    for (const [v, w] of pairs) {
      r -= w;
      if (r < 0) return v;
    }
    const last = pairs[pairs.length - 1];
    if (!last) throw new RangeError("Cannot pick from no weighted pairs");
    return last[0];
  }

  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /**
   * A small count with a long tail: lo + k where k is geometric with mean about `mean - lo`,
   * capped at hi.
   */
  count(lo: number, mean: number, hi: number): number {
    const p = 1 / Math.max(1, mean - lo + 1);
    let k = lo;
    while (k < hi && !this.chance(p)) k++;
    return k;
  }
}
