/**
 * Alignment of large payloads on a ring. V8 copies to and from shared memory (a SharedArrayBuffer)
 * with relaxed atomics: 8 bytes at a time when source and destination have the same address
 * modulo 8, one byte at a time otherwise, which measured 15 to 20 times slower (0.65 against 0.04
 * ms per MB here). A ring record's payload starts 5 bytes after an arbitrary position, and a
 * sender's payload view sits at any offset of its buffer, so most copies of a 10 MB message took
 * the byte loop. The writer therefore puts a small Pad record (5 to 12 bytes, never delivered)
 * before a large payload so that each byte lands at the ring position its source has modulo 8,
 * and the reader allocates its copy at the offset the ring position has modulo 8. Private to
 * src/ipc/ (ring.ts and _ring_reader.ts); pure arithmetic.
 */

import { RECORD_HEADER_BYTES, RecordKind } from "./record.ts";

/** Kind of the filler record. */
export const PAD: number = RecordKind.Pad;
/** Payloads from this size on are aligned; below it a byte loop costs less than a pad. */
export const ALIGN_MIN = 1024;
const WORD = 8;

/**
 * The alignment a payload wants: payload byte k should sit at a ring position congruent to
 * key + k (mod 8), which matches its largest part's bytes (the one whose copy matters). `start`
 * is the payload index of parts[0]'s first byte. -1 when the payload is too small to matter.
 */
export function alignKey(parts: readonly Uint8Array[], len: number, start = 0): number {
  if (len < ALIGN_MIN) return -1;
  let key = -1;
  let longest = 0;
  let at = start;
  for (const part of parts) {
    if (part.length > longest) {
      longest = part.length;
      key = (part.byteOffset - at) & (WORD - 1);
    }
    at += part.length;
  }
  return key;
}

/**
 * Bytes of the Pad record to write at ring position `head` so that payload byte `k`, which
 * follows a record header and `extra` more bytes, lands at key + k (mod 8): 0 (no pad) or 5-12.
 */
export function padBefore(head: number, key: number, k: number, extra: number): number {
  if (key < 0) return 0;
  const d = (key + k - head - RECORD_HEADER_BYTES - extra) & (WORD - 1);
  if (d === 0) return 0;
  return d >= RECORD_HEADER_BYTES ? d : d + WORD;
}

/**
 * A fresh array of `len` bytes whose first byte has the address `pos` has modulo 8 (a view at
 * that offset of a slightly larger buffer), for copying from ring position `pos` 8 bytes at a
 * time. Small lengths get a plain array.
 */
export function alignedCopyTarget(len: number, pos: number): Uint8Array {
  const o = pos & (WORD - 1);
  if (len < ALIGN_MIN || o === 0) return new Uint8Array(len);
  return new Uint8Array(len + o).subarray(o);
}
