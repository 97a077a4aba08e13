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
 * before them. A record may wrap around the end of the data area.
 */

import { writeU32LE } from "../bytes.ts";
import { Overflow } from "./_overflow.ts";
import { HEAD, type RingBuffers, SPACE, TAIL, viewsOf, WAITING } from "./_ring_layout.ts";
import { RECORD_HEADER_BYTES } from "./record.ts";
import { ringDoorbell } from "./waiter.ts";

export { createRing, type RingBuffers } from "./_ring_layout.ts";

/**
 * Producer half of a ring. `write()` never drops: a record that does not fit is parked in a local
 * FIFO (and so is everything written after it, to keep order) and moved in as the reader frees
 * space. Single-threaded by construction: one RingWriter per ring, in one isolate.
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
  #data: Uint8Array;
  #doorbell: SharedArrayBuffer;
  #capacity: number;
  #mask: number;
  #head: number; // next write position (not yet published while > #published)
  #published: number;
  #tail: number; // last tail seen; refreshed only when space seems short
  #overflow = new Overflow();
  /** Records ever parked, and ever moved from the overflow into the ring and published. */
  #parkedTotal = 0;
  #movedTotal = 0;
  /** whenCommitted() callers: resolve once #movedTotal reaches their mark. */
  #commitWaiters: { mark: number; resolve: () => void }[] = [];
  #flushScheduled = false;
  #waiting = false;
  #closed = false;

  /** @param doorbell the consumer's doorbell, rung once per flushed batch. */
  constructor(ring: RingBuffers, doorbell: SharedArrayBuffer) {
    const { header, data } = viewsOf(ring);
    this.#header = header;
    this.#data = data;
    this.#doorbell = doorbell;
    this.#capacity = ring.capacity;
    this.#mask = ring.capacity - 1;
    this.#head = Atomics.load(header, HEAD) >>> 0;
    this.#published = this.#head;
    this.#tail = Atomics.load(header, TAIL) >>> 0;
  }

  /** True while records are parked in overflow (bytes parked > 0). */
  get congested(): boolean {
    return this.#overflow.length > 0;
  }

  /** Bytes parked in overflow, record headers included. */
  get parkedBytes(): number {
    return this.#overflow.bytes;
  }

  /**
   * Appends one record. The payload parts are copied before write() returns (into the ring or
   * into the overflow), so the caller may reuse its buffers. Throws RangeError when the record
   * (5 header bytes + payload) is larger than the ring. After close() it discards the record.
   */
  write(kind: number, payload: Uint8Array | readonly Uint8Array[]): void {
    if (this.#closed) return;
    const parts = payload instanceof Uint8Array ? [payload] : payload;
    let len = 0;
    for (const part of parts) len += part.length;
    const total = RECORD_HEADER_BYTES + len;
    if (total > this.#capacity) {
      throw new RangeError(
        `Cannot write record of ${total} bytes: ring capacity is ${this.#capacity} bytes`,
      );
    }
    if (this.#overflow.length > 0 || !this.#fits(total)) {
      this.#park(kind, parts, len);
      return;
    }
    this.#putHeader(kind, len);
    let pos = (this.#head + RECORD_HEADER_BYTES) >>> 0;
    for (const part of parts) {
      this.#copyIn(pos, part);
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
    const mark = this.#parkedTotal;
    return new Promise((resolve) => this.#commitWaiters.push({ mark, resolve }));
  }

  /** Stops the space-waiting loop and discards parked records; later writes are discarded. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#overflow.clear();
    for (const w of this.#commitWaiters) w.resolve();
    this.#commitWaiters = [];
    // Wake our own pending waitAsync so the loop sees #closed and ends.
    Atomics.notify(this.#header, SPACE);
  }

  #fits(total: number): boolean {
    if (this.#capacity - ((this.#head - this.#tail) >>> 0) >= total) return true;
    this.#tail = Atomics.load(this.#header, TAIL) >>> 0;
    return this.#capacity - ((this.#head - this.#tail) >>> 0) >= total;
  }

  #putHeader(kind: number, len: number): void {
    const d = this.#data;
    const m = this.#mask;
    const h = this.#head;
    d[h & m] = len;
    d[(h + 1) & m] = len >>> 8;
    d[(h + 2) & m] = len >>> 16;
    d[(h + 3) & m] = len >>> 24;
    d[(h + 4) & m] = kind;
  }

  #copyIn(pos: number, src: Uint8Array): void {
    const i = pos & this.#mask;
    const room = this.#capacity - i;
    if (src.length <= room) {
      this.#data.set(src, i);
    } else {
      this.#data.set(src.subarray(0, room), i);
      this.#data.set(src.subarray(room), 0);
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  #park(kind: number, parts: readonly Uint8Array[], len: number): void {
    // Parked records are copied (the caller may reuse its buffers) and encoded whole, so moving
    // one in later is a single copy.
    const record = new Uint8Array(RECORD_HEADER_BYTES + len);
    writeU32LE(record, 0, len);
    record[4] = kind;
    let at = RECORD_HEADER_BYTES;
    for (const part of parts) {
      record.set(part, at);
      at += part.length;
    }
    const starting = this.#overflow.length === 0;
    this.#overflow.push(record);
    this.#parkedTotal++;
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
          if (!this.#fits(rec.length)) break;
          this.#copyIn(this.#head, rec);
          this.#head = (this.#head + rec.length) >>> 0;
          this.#overflow.shift();
          this.#movedTotal++;
          moved = true;
        }
        // Publish what is in the ring before sleeping, or the reader would never free space.
        if (moved || this.#head !== this.#published) this.flush();
        if (moved && this.#commitWaiters.length > 0) this.#resolveCommitted();
        const next = this.#overflow.peek();
        if (next === undefined) break;
        const seq = Atomics.load(this.#header, SPACE);
        Atomics.store(this.#header, WAITING, 1);
        // Re-check after raising the flag: the reader stores tail before it reads the flag, so
        // either this load sees the new tail or the reader sees the flag and bumps SPACE.
        if (this.#fits(next.length)) continue;
        const res = Atomics.waitAsync(this.#header, SPACE, seq);
        if (res.async) await res.value;
      }
    } finally {
      this.#waiting = false;
    }
    if (!this.#closed) this.onCongestion?.(false);
  }

  #resolveCommitted(): void {
    const left: { mark: number; resolve: () => void }[] = [];
    for (const w of this.#commitWaiters) {
      if (w.mark <= this.#movedTotal) w.resolve();
      else left.push(w);
    }
    this.#commitWaiters = left;
  }
}

/**
 * Consumer half of a ring: one RingReader per ring, in one isolate.
 *
 * @example
 * ```ts
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

  constructor(ring: RingBuffers) {
    const { header, data } = viewsOf(ring);
    this.#header = header;
    this.#data = data;
    this.#capacity = ring.capacity;
    this.#mask = ring.capacity - 1;
    this.#tail = Atomics.load(header, TAIL) >>> 0;
  }

  /**
   * Calls onRecord for up to maxRecords committed records, in order; the payload is a fresh copy
   * the callee may keep. Returns how many it read. Space is released (tail published, a waiting
   * writer woken) once per call, also when onRecord throws.
   */
  drain(onRecord: (kind: number, payload: Uint8Array) => void, maxRecords = Infinity): number {
    const head = Atomics.load(this.#header, HEAD) >>> 0;
    const d = this.#data;
    const m = this.#mask;
    let n = 0;
    try {
      while (this.#tail !== head && n < maxRecords) {
        const t = this.#tail;
        const len = (d[t & m]! | (d[(t + 1) & m]! << 8) | (d[(t + 2) & m]! << 16) |
          (d[(t + 3) & m]! << 24)) >>> 0;
        const kind = d[(t + 4) & m]!;
        if (RECORD_HEADER_BYTES + len > ((head - t) >>> 0)) {
          throw new Error(`Ring corrupted: record of ${len} bytes at position ${t}`);
        }
        const payload = this.#copyOut((t + RECORD_HEADER_BYTES) >>> 0, len);
        this.#tail = (t + RECORD_HEADER_BYTES + len) >>> 0;
        n++;
        onRecord(kind, payload);
      }
    } finally {
      if (n > 0) this.#release();
    }
    return n;
  }

  /** True when no committed record is waiting. */
  isEmpty(): boolean {
    return (Atomics.load(this.#header, HEAD) >>> 0) === this.#tail;
  }

  #copyOut(pos: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const i = pos & this.#mask;
    const room = this.#capacity - i;
    if (len <= room) {
      out.set(this.#data.subarray(i, i + len));
    } else {
      out.set(this.#data.subarray(i, this.#capacity));
      out.set(this.#data.subarray(0, len - room), room);
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
