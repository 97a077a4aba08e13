/**
 * A record that does not fit in the ring yet, as RingWriter parks it, and what it needs of the
 * ring before it can go in: the Pad before it and its next step's bytes. Pure: it reads no ring
 * word and writes nothing; the writer passes its head position. Private to src/ipc/ (ring.ts).
 *
 * @module
 */

import { writeU32LE } from "../bytes.ts";
import type { Parked } from "./_overflow.ts";
import { FRAGMENT_HEADER_BYTES, type ParkedParts, parkedParts, SHARE_MIN } from "./_fragments.ts";
import { ALIGN_MIN, alignKey, padBefore } from "./_align.ts";
import { RECORD_HEADER_BYTES } from "./record.ts";

/**
 * The parked form of a record of `len` payload bytes: its parts kept by reference when one is
 * large, else one encoded copy.
 */
export function parkedRecord(kind: number, parts: readonly Uint8Array[], len: number): Parked {
  // A large part is parked by reference (see parkedParts): no second copy of a big payload.
  for (const part of parts) {
    if (part.length < SHARE_MIN) continue;
    const kept = parkedParts(parts, 0);
    const align = alignKey(kept, len);
    return { kind, total: len, parts: kept, base: 0, sent: 0, whole: true, align };
  }
  // Small records are copied (the caller may reuse its buffers) and encoded whole, so moving
  // one in later is a single copy.
  const record = new Uint8Array(RECORD_HEADER_BYTES + len);
  writeU32LE(record, 0, len);
  record[4] = kind;
  let at = RECORD_HEADER_BYTES;
  for (const part of parts) {
    record.set(part, at);
    at += part.length;
  }
  return record;
}

/** The parked form of a big record whose first `sent` payload bytes went in as pieces. */
export function parkedRest(
  kind: number,
  parts: readonly Uint8Array[],
  len: number,
  sent: number,
): ParkedParts {
  const rest = parkedParts(parts, sent);
  const align = alignKey(rest, len - sent, sent);
  return { kind, total: len, parts: rest, base: sent, sent, whole: false, align };
}

/** Ring bytes the parked record needs at `head` before its next step can go in. */
export function needOf(item: Parked, head: number, maxWhole: number): number {
  if (item instanceof Uint8Array) return encodedPad(item, head) + item.length;
  if (item.whole) {
    return padBefore(head, item.align, 0, 0) + RECORD_HEADER_BYTES + item.total;
  }
  const extra = item.sent === 0 ? FRAGMENT_HEADER_BYTES : 0;
  const piece = Math.min(item.total - item.sent, maxWhole - RECORD_HEADER_BYTES - extra);
  const pad = padBefore(head, item.align, item.sent, extra);
  return pad + RECORD_HEADER_BYTES + extra + piece;
}

/** The pad an encoded parked record (header included) needs before it at `head`. */
export function encodedPad(rec: Uint8Array, head: number): number {
  if (rec.length - RECORD_HEADER_BYTES < ALIGN_MIN) return 0;
  return padBefore(head, (rec.byteOffset + RECORD_HEADER_BYTES) & 7, 0, 0);
}
