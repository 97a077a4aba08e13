/**
 * RingReader: the consumer half of a ring (ring.ts has the layout notes and the writer). Reads
 * committed records in order, reassembles fragmented ones (_fragments.ts) so that its callback
 * only ever sees whole records, skips Pad records and copies large payloads 8 bytes at a time
 * into buffers aligned like the ring (_align.ts), and releases space to the writer. Private to src/ipc/; ring.ts
 * re-exports it. Owns the ring's tail word and one reassembly buffer.
 */

import { RECORD_HEADER_BYTES } from "./record.ts";
import { FRAGMENT, FRAGMENT_HEADER_BYTES, FRAGMENT_MORE } from "./_fragments.ts";
import { alignedCopyTarget, PAD } from "./_align.ts";
import { HEAD, type RingBuffers, SPACE, TAIL, viewsOf, WAITING } from "./_ring_layout.ts";

/**
 * Consumer half of a ring: one RingReader per ring, in one isolate.
 *
 * @example
 * ```ts
 * import { createRing } from "./ring.ts";
 * import assert from "node:assert/strict";
 * const ring = createRing(4096);
 * const reader = new RingReader(ring);
 * assert.equal(reader.isEmpty(), true);
 * ```
 */
export class RingReader {
  #header: Int32Array;
  #data: Uint8Array;
  #capacity: number;
  #mask: number;
  #tail: number;
  /** The fragmented record being reassembled, its kind and the bytes filled so far. */
  #big: Uint8Array | null = null;
  #bigKind = 0;
  #bigFilled = 0;

  constructor(ring: RingBuffers) {
    const { header, data } = viewsOf(ring);
    this.#header = header;
    this.#data = data;
    this.#capacity = ring.capacity;
    this.#mask = ring.capacity - 1;
    this.#tail = Atomics.load(header, TAIL) >>> 0;
  }

  /**
   * Reads up to `maxRecords` committed ring records, in order, and calls onRecord for each whole
   * record: a fragmented record is reassembled across pieces (and across calls) and delivered
   * once its last piece is read. The payload is a fresh copy the callee may keep. Returns how
   * many ring records it read (pieces count one each), so 0 means the ring was empty. Space is
   * released (tail published, a waiting writer woken) once per call, also when onRecord throws.
   * With `until` (a `committed()` value read earlier) it stops there: records committed after
   * that moment wait for a later call.
   */
  drain(
    onRecord: (kind: number, payload: Uint8Array) => void,
    maxRecords = Infinity,
    until?: number,
  ): number {
    const head = until ?? Atomics.load(this.#header, HEAD) >>> 0;
    const d = this.#data;
    const m = this.#mask;
    let n = 0;
    try {
      while (this.#tail !== head && n < maxRecords) {
        const t = this.#tail;
        const len = this.#u32(t);
        const kind = d[(t + 4) & m]!;
        if (RECORD_HEADER_BYTES + len > ((head - t) >>> 0)) {
          throw new Error(`Ring corrupted: record of ${len} bytes at position ${t}`);
        }
        const at = (t + RECORD_HEADER_BYTES) >>> 0;
        this.#tail = (at + len) >>> 0;
        n++;
        if (kind === PAD) continue;
        if (kind === FRAGMENT || kind === FRAGMENT_MORE || this.#big !== null) {
          const whole = this.#piece(kind, at, len, t);
          if (whole !== null) onRecord(this.#bigKind, whole);
        } else {
          onRecord(kind, this.#copyOut(at, len, alignedCopyTarget(len, at), 0));
        }
      }
    } finally {
      if (n > 0) this.#release();
    }
    return n;
  }

  /**
   * The position up to which records are committed now; pass it to drain() as `until` to take
   * only what was there at this moment.
   */
  committed(): number {
    return Atomics.load(this.#header, HEAD) >>> 0;
  }

  /** True when no committed ring record is waiting (a record may be half reassembled). */
  isEmpty(): boolean {
    return (Atomics.load(this.#header, HEAD) >>> 0) === this.#tail;
  }

  /** Takes one piece of a fragmented record; returns the record once it is whole. */
  #piece(kind: number, at: number, len: number, t: number): Uint8Array | null {
    let big = this.#big;
    if (kind === FRAGMENT) {
      if (big !== null || len < FRAGMENT_HEADER_BYTES) {
        throw new Error(`Ring corrupted: misplaced first piece at position ${t}`);
      }
      const total = this.#u32((at + 1) >>> 0);
      const piece = len - FRAGMENT_HEADER_BYTES;
      if (piece > total) {
        throw new Error(`Ring corrupted: piece of ${piece} bytes for a ${total}-byte record`);
      }
      this.#bigKind = this.#data[at & this.#mask]!;
      const data = (at + FRAGMENT_HEADER_BYTES) >>> 0;
      this.#big = big = alignedCopyTarget(total, data);
      this.#copyOut(data, piece, big, 0);
      this.#bigFilled = piece;
    } else if (kind === FRAGMENT_MORE && big !== null) {
      if (this.#bigFilled + len > big.length) {
        throw new Error(`Ring corrupted: piece of ${len} bytes overruns its record`);
      }
      this.#copyOut(at, len, big, this.#bigFilled);
      this.#bigFilled += len;
    } else {
      throw new Error(`Ring corrupted: record kind ${kind} at position ${t} inside a record`);
    }
    if (this.#bigFilled < big.length) return null;
    this.#big = null;
    return big;
  }

  #u32(pos: number): number {
    const d = this.#data;
    const m = this.#mask;
    return (d[pos & m]! | (d[(pos + 1) & m]! << 8) | (d[(pos + 2) & m]! << 16) |
      (d[(pos + 3) & m]! << 24)) >>> 0;
  }

  /** Copies `len` ring bytes from `pos` into `out` at `offset`; returns `out`. */
  #copyOut(pos: number, len: number, out: Uint8Array, offset: number): Uint8Array {
    const i = pos & this.#mask;
    const room = this.#capacity - i;
    if (len <= room) {
      out.set(this.#data.subarray(i, i + len), offset);
    } else {
      out.set(this.#data.subarray(i, this.#capacity), offset);
      out.set(this.#data.subarray(0, len - room), offset + room);
    }
    return out;
  }

  #release(): void {
    Atomics.store(this.#header, TAIL, this.#tail | 0);
    if (Atomics.exchange(this.#header, WAITING, 0) !== 0) {
      Atomics.add(this.#header, SPACE, 1);
      Atomics.notify(this.#header, SPACE);
    }
  }
}
