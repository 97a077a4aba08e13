/**
 * RingBytes: stores into the data area of a ring at u32 positions that wrap around its end (the
 * index is `position & (capacity - 1)`). Private to src/ipc/; the RingWriter's only way to write
 * record bytes. Owns no position: the writer says where.
 */

/** Byte stores into one ring's data area; see the file header. */
export class RingBytes {
  readonly #data: Uint8Array;
  readonly #capacity: number;
  readonly #mask: number;

  constructor(data: Uint8Array) {
    this.#data = data;
    this.#capacity = data.length;
    this.#mask = data.length - 1;
  }

  /** A record header at `pos`: u32 LE payload length, u8 kind. */
  putHeader(pos: number, kind: number, len: number): void {
    this.putU32(pos, len);
    this.#data[(pos + 4) & this.#mask] = kind;
  }

  putU8(pos: number, v: number): void {
    this.#data[pos & this.#mask] = v;
  }

  putU32(pos: number, v: number): void {
    const d = this.#data;
    const m = this.#mask;
    d[pos & m] = v;
    d[(pos + 1) & m] = v >>> 8;
    d[(pos + 2) & m] = v >>> 16;
    d[(pos + 3) & m] = v >>> 24;
  }

  /** Copies `src` to `pos`, in two parts when it wraps (each keeps its alignment: see _align.ts). */
  copyIn(pos: number, src: Uint8Array): void {
    const i = pos & this.#mask;
    const room = this.#capacity - i;
    if (src.length <= room) {
      this.#data.set(src, i);
    } else {
      this.#data.set(src.subarray(0, room), i);
      this.#data.set(src.subarray(room), 0);
    }
  }

  /** Copies bytes [from, from + n) of the concatenated parts to `pos`. */
  copyRange(pos: number, parts: readonly Uint8Array[], from: number, n: number): void {
    let skip = from;
    let left = n;
    for (const part of parts) {
      if (left === 0) return;
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      const take = Math.min(part.length - skip, left);
      this.copyIn(
        pos,
        skip === 0 && take === part.length ? part : part.subarray(skip, skip + take),
      );
      pos = (pos + take) >>> 0;
      left -= take;
      skip = 0;
    }
  }
}
