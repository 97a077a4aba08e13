/**
 * Little-endian field writer and reader for message.ts's ring format. Private to src/mqtt/: the
 * ring records of src/ipc/ have their own FieldWriter, which this folder may not import.
 *
 * @module
 */

import { readF64LE, readU16LE, readU32LE } from "../bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// UTF-8 length of a JS string, matching TextEncoder (a lone surrogate becomes U+FFFD, 3 bytes).
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

// Little-endian writer over a buffer sized exactly in advance (strings carry a u16 length: MQTT
// strings never exceed 65535 bytes).
export class LeWriter {
  readonly buf: Uint8Array;
  readonly #view: DataView;
  pos = 0;
  /** `into`: `size` bytes to write in (a caller's arena) instead of a new buffer. */
  constructor(size: number, into?: Uint8Array) {
    this.buf = into ?? new Uint8Array(size);
    this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.#view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.#view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string, len: number): void {
    if (len > 0xffff) throw new RangeError(`Cannot encode message: string of ${len} bytes`);
    this.#view.setUint16(this.pos, len, true);
    this.pos += 2;
    encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

export class LeReader {
  readonly #b: Uint8Array;
  pos = 0;
  // No DataView: it would move a small record's bytes to a malloc'd store (see FieldReader).
  constructor(b: Uint8Array) {
    this.#b = b;
  }
  #need(n: number): void {
    if (this.pos + n > this.#b.length) {
      throw new SyntaxError(`Cannot decode message: truncated at byte ${this.pos}`);
    }
  }
  u8(): number {
    this.#need(1);
    return this.#b[this.pos++]!;
  }
  u32(): number {
    this.#need(4);
    const v = readU32LE(this.#b, this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.#need(8);
    const v = readF64LE(this.#b, this.pos);
    this.pos += 8;
    return v;
  }
  /** Skips a string (u16 length + UTF-8) without decoding it. */
  skipStr(): void {
    this.#need(2);
    const len = readU16LE(this.#b, this.pos);
    this.pos += 2;
    this.#need(len);
    this.pos += len;
  }
  str(): string {
    this.#need(2);
    const len = readU16LE(this.#b, this.pos);
    this.pos += 2;
    this.#need(len);
    const s = decoder.decode(this.#b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  /** A view into the record, not a copy. */
  bytes(): Uint8Array {
    const len = this.u32();
    this.#need(len);
    const v = this.#b.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
}
