/**
 * SPSC byte ring over a SharedArrayBuffer: the producer half (RingWriter, with its overflow
 * parking and space waiting) and the consumer half (RingReader). Owns the ring header words and
 * data area; nothing else may read or write them. Knows records ([u32 length][u8 kind][payload]),
 * never what is inside a payload.
 *
 * Layout: a header of Int32 words, then `capacity` data bytes. head and tail are monotonic u32
 * byte positions (they wrap at 2^32; `position & (capacity - 1)` is the index), so used bytes are
 * `(head - tail) >>> 0` and no slot is wasted. Only the writer stores head and only the reader
 * stores tail; both with Atomics (sequentially consistent), which orders the plain data copies
 * before them. A record may wrap around the end of the data area. A record larger than a quarter
 * of the ring is written in pieces that the reader reassembles (_fragments.ts), so any record
 * size works with any ring size.
 */

import { Overflow, type Parked } from "./_overflow.ts";
import {
  FRAGMENT,
  FRAGMENT_HEADER_BYTES,
  FRAGMENT_MORE,
  MAX_RECORD_PAYLOAD,
  maxWholeRecord,
  type ParkedParts,
} from "./_fragments.ts";
import { encodedPad, needOf, parkedRecord, parkedRest } from "./_parked_record.ts";
import { CommitWaiters } from "./_commit_waiters.ts";
import { ALIGN_MIN, alignKey, PAD, padBefore } from "./_align.ts";
import { HEAD, type RingBuffers, SPACE, TAIL, viewsOf, WAITING } from "./_ring_layout.ts";
import { RingBytes } from "./_ring_bytes.ts";
import { RECORD_HEADER_BYTES } from "./record.ts";
import { ringDoorbell } from "./waiter.ts";

export { createRing, type RingBuffers } from "./_ring_layout.ts";
export { RingReader } from "./_ring_reader.ts";
export { maxWholePayload } from "./_fragments.ts";

/**
 * Producer half of a ring. `write()` never drops: a record that does not fit is parked in a local
 * FIFO (and so is everything written after it, to keep order) and moved in as the reader frees
 * space. A record larger than a quarter ring goes in pieces: those that fit now are written at
 * once, the rest is parked and follows as space frees. Single-threaded by construction: one
 * RingWriter per ring, in one isolate.
 *
 * @example
 * ```ts
 * import { createDoorbell } from "./waiter.ts";
 * import assert from "node:assert/strict";
 * const ring = createRing(4096);
 * const writer = new RingWriter(ring, createDoorbell());
 * writer.write(1, new Uint8Array([1, 2, 3]));
 * writer.flush();
 * const got: [number, number[]][] = [];
 * new RingReader(ring).drain((kind, payload) => got.push([kind, [...payload]]));
 * assert.deepEqual(got, [[1, [1, 2, 3]]]);
 * writer.close();
 * ```
 */
export class RingWriter {
  /** Called when congestion starts (true) and when the overflow is empty again (false). */
  onCongestion: ((congested: boolean) => void) | null = null;

  #header: Int32Array;
  #bytes: RingBytes;
  #doorbell: SharedArrayBuffer;
  #capacity: number;
  /** Largest record (header included) written in one piece. */
  #maxWhole: number;
  #head: number; // next write position (not yet published while > #published)
  #published: number;
  #tail: number; // last tail seen; refreshed only when space seems short
  #overflow = new Overflow();
  #commits = new CommitWaiters();
  #flushScheduled = false;
  #waiting = false;
  #closed = false;

  /** @param doorbell the consumer's doorbell, rung once per flushed batch. */
  constructor(ring: RingBuffers, doorbell: SharedArrayBuffer) {
    const { header, data } = viewsOf(ring);
    this.#header = header;
    this.#bytes = new RingBytes(data);
    this.#doorbell = doorbell;
    this.#capacity = ring.capacity;
    this.#maxWhole = maxWholeRecord(ring.capacity);
    this.#head = Atomics.load(header, HEAD) >>> 0;
    this.#published = this.#head;
    this.#tail = Atomics.load(header, TAIL) >>> 0;
  }

  /** True while records are parked in overflow (bytes parked > 0). */
  get congested(): boolean {
    return this.#overflow.length > 0;
  }

  /**
   * Bytes parked in overflow: whole records with their headers, and the payload bytes of a big
   * record that are not in the ring yet.
   */
  get parkedBytes(): number {
    return this.#overflow.bytes;
  }

  /**
   * Appends one record of any size up to 4 GiB - 1. The payload parts are copied before write()
   * returns (into the ring or into the overflow), so the caller may reuse its buffers, with one
   * exception: parts of 64 KiB or more of a record that does not fit at once are parked by
   * reference, so they must not change after write() (senders pass freshly encoded bytes or
   * message payloads, which never change; see _fragments.ts). After
   * close() it discards the record. Throws RangeError for a kind outside 0-252 (253-255 are the
   * ring's own: Pad, Fragment, FragmentMore).
   */
  write(kind: number, payload: Uint8Array | readonly Uint8Array[]): void {
    if (this.#closed) return;
    if (!(kind >= 0 && kind < PAD)) {
      throw new RangeError(`Cannot write record of kind ${kind}: kinds are 0-${PAD - 1}`);
    }
    const parts = payload instanceof Uint8Array ? [payload] : payload;
    let len = 0;
    for (const part of parts) len += part.length;
    const total = RECORD_HEADER_BYTES + len;
    if (total > this.#maxWhole) {
      this.#writeBig(kind, parts, len);
      return;
    }
    const pad = len < ALIGN_MIN ? 0 : padBefore(this.#head, alignKey(parts, len), 0, 0);
    if (this.#overflow.length > 0 || !this.#fits(pad + total)) {
      this.#park(kind, parts, len);
      return;
    }
    if (pad > 0) this.#putPad(pad);
    this.#bytes.putHeader(this.#head, kind, len);
    let pos = (this.#head + RECORD_HEADER_BYTES) >>> 0;
    for (const part of parts) {
      this.#bytes.copyIn(pos, part);
      pos = (pos + part.length) >>> 0;
    }
    this.#head = pos;
    this.#scheduleFlush();
  }

  /** Publishes written records to the reader and rings its doorbell (once per batch). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#head === this.#published) return;
    Atomics.store(this.#header, HEAD, this.#head | 0);
    this.#published = this.#head;
    ringDoorbell(this.#doorbell);
  }

  /**
   * Null when every record written so far is in the ring and published; otherwise a promise
   * that resolves once the records parked so far are (later writes do not delay it). What
   * "route before SUBACK" waits for when a peer ring is congested. Resolves at close() too.
   */
  whenCommitted(): Promise<void> | null {
    if (this.#overflow.length === 0) {
      this.flush();
      return null;
    }
    return this.#commits.wait();
  }

  /** Stops the space-waiting loop and discards parked records; later writes are discarded. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#overflow.clear();
    this.#commits.resolveAll();
    // Wake our own pending waitAsync so the loop sees #closed and ends.
    Atomics.notify(this.#header, SPACE);
  }

  #fits(total: number): boolean {
    if (this.#capacity - ((this.#head - this.#tail) >>> 0) >= total) return true;
    this.#tail = Atomics.load(this.#header, TAIL) >>> 0;
    return this.#capacity - ((this.#head - this.#tail) >>> 0) >= total;
  }

  /** A Pad record of `size` bytes (5-12) at head: aligns the payload after it (see _align.ts). */
  #putPad(size: number): void {
    this.#bytes.putHeader(this.#head, PAD, size - RECORD_HEADER_BYTES);
    this.#head = (this.#head + size) >>> 0;
  }

  /**
   * A record larger than #maxWhole: the pieces that fit go in now (unless records are parked
   * already: order), the rest is parked.
   */
  #writeBig(kind: number, parts: readonly Uint8Array[], len: number): void {
    if (len > MAX_RECORD_PAYLOAD) {
      throw new RangeError(`Cannot write record of ${len} bytes: the limit is 4 GiB - 1`);
    }
    const key = alignKey(parts, len);
    const sent = this.#overflow.length > 0 ? 0 : this.#putPieces(kind, len, 0, parts, 0, key);
    if (sent > 0) this.#scheduleFlush();
    if (sent === len) return;
    this.#parkItem(parkedRest(kind, parts, len, sent));
  }

  /**
   * Writes pieces of a big record while they fit, from payload byte `sent` on; `src` holds the
   * payload from byte `base` on. Returns the payload bytes in the ring after it.
   */
  #putPieces(
    kind: number,
    total: number,
    sent: number,
    src: readonly Uint8Array[],
    base: number,
    key: number,
  ): number {
    while (sent < total) {
      const extra = sent === 0 ? FRAGMENT_HEADER_BYTES : 0;
      const piece = Math.min(total - sent, this.#maxWhole - RECORD_HEADER_BYTES - extra);
      const pad = padBefore(this.#head, key, sent, extra);
      if (!this.#fits(pad + RECORD_HEADER_BYTES + extra + piece)) break;
      if (pad > 0) this.#putPad(pad);
      this.#bytes.putHeader(this.#head, extra > 0 ? FRAGMENT : FRAGMENT_MORE, extra + piece);
      let pos = (this.#head + RECORD_HEADER_BYTES) >>> 0;
      if (extra > 0) {
        this.#bytes.putU8(pos, kind);
        this.#bytes.putU32(pos + 1, total);
        pos = (pos + FRAGMENT_HEADER_BYTES) >>> 0;
      }
      this.#bytes.copyRange(pos, src, sent - base, piece);
      this.#head = (pos + piece) >>> 0;
      sent += piece;
    }
    return sent;
  }

  /** Moves what fits of a record parked as parts; true once all of it is in the ring. */
  #moveParts(item: ParkedParts): boolean {
    const before = item.sent;
    if (item.whole) {
      const pad = padBefore(this.#head, item.align, 0, 0);
      if (!this.#fits(pad + RECORD_HEADER_BYTES + item.total)) return false;
      if (pad > 0) this.#putPad(pad);
      this.#bytes.putHeader(this.#head, item.kind, item.total);
      this.#bytes.copyRange((this.#head + RECORD_HEADER_BYTES) >>> 0, item.parts, 0, item.total);
      this.#head = (this.#head + RECORD_HEADER_BYTES + item.total) >>> 0;
      item.sent = item.total;
    } else {
      item.sent = this.#putPieces(
        item.kind,
        item.total,
        before,
        item.parts,
        item.base,
        item.align,
      );
    }
    this.#overflow.moved(item.sent - before);
    return item.sent === item.total;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  #park(kind: number, parts: readonly Uint8Array[], len: number): void {
    this.#parkItem(parkedRecord(kind, parts, len));
  }

  #parkItem(item: Parked): void {
    const starting = this.#overflow.length === 0;
    this.#overflow.push(item);
    this.#commits.parked();
    if (!starting) return;
    this.onCongestion?.(true);
    if (!this.#waiting) void this.#waitForSpace();
  }

  /** Moves parked records into the ring as the reader frees space; ends when overflow is empty. */
  async #waitForSpace(): Promise<void> {
    this.#waiting = true;
    try {
      while (!this.#closed) {
        let moved = false;
        for (let rec = this.#overflow.peek(); rec !== undefined; rec = this.#overflow.peek()) {
          if (!(rec instanceof Uint8Array)) {
            const sent = rec.sent;
            const done = this.#moveParts(rec);
            moved ||= rec.sent > sent;
            if (!done) break;
            this.#overflow.shift();
            this.#commits.moved();
            continue;
          }
          const pad = encodedPad(rec, this.#head);
          if (!this.#fits(pad + rec.length)) break;
          if (pad > 0) this.#putPad(pad);
          this.#bytes.copyIn(this.#head, rec);
          this.#head = (this.#head + rec.length) >>> 0;
          this.#overflow.shift();
          this.#commits.moved();
          moved = true;
        }
        // Publish what is in the ring before sleeping, or the reader would never free space.
        if (moved || this.#head !== this.#published) this.flush();
        if (moved && this.#commits.waiting) this.#commits.resolveMoved();
        const next = this.#overflow.peek();
        if (next === undefined) break;
        const seq = Atomics.load(this.#header, SPACE);
        Atomics.store(this.#header, WAITING, 1);
        // Re-check after raising the flag: the reader stores tail before it reads the flag, so
        // either this load sees the new tail or the reader sees the flag and bumps SPACE.
        if (this.#fits(needOf(next, this.#head, this.#maxWhole))) continue;
        const res = Atomics.waitAsync(this.#header, SPACE, seq);
        if (res.async) await res.value;
      }
    } finally {
      this.#waiting = false;
    }
    if (!this.#closed) this.onCongestion?.(false);
  }
}
