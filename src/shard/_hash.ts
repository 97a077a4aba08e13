/**
 * FNV-1a 32-bit over UTF-8: the one hash that places client ids and retained topics on shards.
 * The supervisor hashes client ids the same way; both must agree or takeover breaks.
 */

const encoder = new TextEncoder();

/** Index in [0, count) for `key`. */
export function shardOfKey(key: string, count: number): number {
  if (count <= 1) return 0;
  let h = 0x811c9dc5;
  for (const b of encoder.encode(key)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
