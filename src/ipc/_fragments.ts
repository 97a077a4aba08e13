/**
 * Fragment records: how a record too big for one ring record crosses a ring in pieces. Private to
 * src/ipc/: ring.ts cuts them, _ring_reader.ts reassembles them, and no consumer ever sees one.
 *
 * A record whose 5 header bytes and payload exceed a quarter of the ring (maxWholeRecord) goes as
 * one `Fragment` record `[u8 kind][u32 LE total payload length][first piece]` followed by as many
 * `FragmentMore` records `[next piece]` as it takes, each at most a quarter ring. The pieces are
 * back to back on the ring: the ring has one writer, and while the rest of a big record waits in
 * the writer's overflow, every later record parks behind it. So the reader needs one reassembly
 * buffer per ring, for one record at a time, and ring memory does not grow with the record size.
 * Why a quarter: a piece never needs the ring empty, so the writer fills the space the reader
 * frees while the reader copies the pieces before it.
 */

import { RECORD_HEADER_BYTES, RecordKind } from "./record.ts";

/** Kind of the first piece. */
export const FRAGMENT: number = RecordKind.Fragment;
/** Kind of every later piece. */
export const FRAGMENT_MORE: number = RecordKind.FragmentMore;
/** Bytes a first piece carries before its data: the record's kind and total length. */
export const FRAGMENT_HEADER_BYTES = 5;
/** Largest payload a record can declare (a u32 total length). */
export const MAX_RECORD_PAYLOAD = 0xffff_ffff;

/** Largest record, header included, that goes on a ring of `capacity` bytes in one piece. */
export function maxWholeRecord(capacity: number): number {
  return capacity >>> 2;
}

/**
 * Largest payload that crosses a ring of `capacity` bytes as one record; larger ones go in
 * pieces. Senders that cut a byte stream anyway (socket reads) cut at this size to spare the
 * reassembly.
 *
 * @example
 * ```ts
 * import { maxWholePayload } from "./_fragments.ts";
 * import assert from "node:assert/strict";
 * assert.ok(maxWholePayload(4 * 1024 * 1024) === 1024 * 1024 - 5);
 * ```
 */
export function maxWholePayload(capacity: number): number {
  return maxWholeRecord(capacity) - RECORD_HEADER_BYTES;
}

/**
 * A record in the writer's overflow kept as parts: `parts` hold payload bytes [base, total),
 * `sent` counts payload bytes already in the ring (sent >= base). `whole` records (a quarter
 * ring at most) go in as one ring record once they fit; the others go in pieces.
 */
export interface ParkedParts {
  readonly kind: number;
  readonly total: number;
  readonly parts: readonly Uint8Array[];
  readonly base: number;
  readonly whole: boolean;
  /** alignKey of the parts (_align.ts), from payload byte `base` on; -1 for none. */
  readonly align: number;
  sent: number;
}

/** Parts at least this large are parked by reference (see parkedParts). */
export const SHARE_MIN = 64 * 1024;

/**
 * What to park of bytes [from, end) of the concatenated `parts`: parts of SHARE_MIN bytes or
 * more by reference, everything else copied, runs of small pieces into one buffer. So parking
 * a 64 MB payload costs no second 64 MB, and a parked record holds no more than itself: its
 * large parts are the sender's own encoded bytes or message payloads, which stay alive anyway
 * until delivered (the sender must not change them after write(); none does). Parking lasts
 * only until the reader frees space.
 */
export function parkedParts(parts: readonly Uint8Array[], from: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const small: Uint8Array[] = [];
  let smallBytes = 0;
  const flushSmall = () => {
    if (smallBytes === 0) return;
    const copy = new Uint8Array(smallBytes);
    let at = 0;
    for (const p of small) {
      copy.set(p, at);
      at += p.length;
    }
    out.push(copy);
    small.length = 0;
    smallBytes = 0;
  };
  let skip = from;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    const rest = skip === 0 ? part : part.subarray(skip);
    skip = 0;
    if (part.length >= SHARE_MIN) {
      flushSmall();
      out.push(rest);
    } else {
      small.push(rest);
      smallBytes += rest.length;
    }
  }
  flushSmall();
  return out;
}
