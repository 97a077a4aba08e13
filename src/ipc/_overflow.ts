/**
 * Producer-side parking queue of a RingWriter: records that did not fit in the ring, in write
 * order. Records of small parts are parked encoded (header + payload); a record with large parts
 * or one going in pieces is parked as parts (_fragments.ts ParkedParts). Private to src/ipc/. It only
 * stores and counts; it never drops a record and never touches the ring (ring.ts moves records
 * in as space frees).
 */

import type { ParkedParts } from "./_fragments.ts";

/** A parked record: encoded whole, or as parts. */
export type Parked = Uint8Array | ParkedParts;

function bytesOf(item: Parked): number {
  return item instanceof Uint8Array ? item.length : item.total - item.sent;
}

/** FIFO of parked records, counted in records and bytes not yet in the ring. */
export class Overflow {
  #items: Parked[] = [];
  #first = 0;
  #bytes = 0;

  /** Bytes parked. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records parked. */
  get length(): number {
    return this.#items.length - this.#first;
  }

  /** Parks one record at the end. */
  push(item: Parked): void {
    this.#items.push(item);
    this.#bytes += bytesOf(item);
  }

  /** The oldest parked record, or undefined when empty. */
  peek(): Parked | undefined {
    return this.#items[this.#first];
  }

  /** `n` more bytes of the oldest record (kept as parts) went into the ring. */
  moved(n: number): void {
    this.#bytes -= n;
  }

  /** Removes the oldest parked record. */
  shift(): void {
    const item = this.#items[this.#first];
    if (item === undefined) return;
    this.#bytes -= bytesOf(item);
    this.#first++;
    // Compact now and then instead of Array.shift() per record (O(n) each).
    if (this.#first === this.#items.length) {
      this.#items = [];
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#first);
      this.#first = 0;
    }
  }

  /** Drops everything (the writer was closed). */
  clear(): void {
    this.#items = [];
    this.#first = 0;
    this.#bytes = 0;
  }
}
