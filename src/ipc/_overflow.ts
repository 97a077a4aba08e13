/**
 * Producer-side parking queue of a RingWriter: encoded records that did not fit in the ring, in
 * write order. Private to src/ipc/. It only stores and counts; it never drops a record and never
 * touches the ring (ring.ts moves records in as space frees).
 */

/** FIFO of encoded records (header + payload), counted in records and bytes. */
export class Overflow {
  #items: Uint8Array[] = [];
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

  /** Parks one encoded record at the end. */
  push(record: Uint8Array): void {
    this.#items.push(record);
    this.#bytes += record.length;
  }

  /** The oldest parked record, or undefined when empty. */
  peek(): Uint8Array | undefined {
    return this.#items[this.#first];
  }

  /** Removes the oldest parked record. */
  shift(): void {
    const item = this.#items[this.#first];
    if (item === undefined) return;
    this.#bytes -= item.length;
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
