/**
 * Partitioning: the one hash that places client ids (supervisor) and retained topics, shared
 * group picks (shards) on shards. Both sides must agree or takeover breaks, so it lives here,
 * below both. Knows strings and counts, nothing of MQTT.
 */

const encoder = new TextEncoder();

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
  for (const b of encoder.encode(key)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The partition in [0, count) for `key`. */
export function partitionOf(key: string, count: number): number {
  return count <= 1 ? 0 : fnv1a32(key) % count;
}
