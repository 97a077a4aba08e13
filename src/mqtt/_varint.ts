/**
 * The MQTT Variable Byte Integer (section 1.5.5): size, read and write, in one place for the
 * codec, the fast decoder, the PUBLISH encoder and the frame checker. Private to src/mqtt/. Reads
 * here trust their input: frames are checked (minimal encoding, at most 4 bytes) before they are
 * read, so the value alone says how many bytes it spans.
 *
 * @module
 */

/** Largest value a Variable Byte Integer can hold (4 bytes). */
export const VAR_INT_MAX = 268_435_455;

/**
 * Bytes of n as a minimal Variable Byte Integer [MQTT-1.5.5-1].
 *
 * @example
 * ```ts
 * import { varIntSize } from "./_varint.ts";
 * import assert from "node:assert/strict";
 * assert.ok(varIntSize(127) === 1 && varIntSize(128) === 2 && varIntSize(2_097_152) === 4);
 * ```
 */
export function varIntSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/**
 * The Variable Byte Integer at `at` of an already checked frame (minimal, so it spans
 * varIntSize(value) bytes).
 *
 * @example
 * ```ts
 * import { readVarInt } from "./_varint.ts";
 * import assert from "node:assert/strict";
 * assert.ok(readVarInt(new Uint8Array([0, 0x80, 0x01]), 1) === 128);
 * ```
 */
export function readVarInt(b: Uint8Array, at: number): number {
  let v = 0;
  for (let mul = 1;; mul *= 128) {
    const c = b[at++]!;
    v += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) return v;
  }
}

/**
 * Writes n at `o` as a minimal Variable Byte Integer; returns the offset after it.
 *
 * @example
 * ```ts
 * import { writeVarInt } from "./_varint.ts";
 * import assert from "node:assert/strict";
 * const out = new Uint8Array(2);
 * assert.ok(writeVarInt(out, 0, 200) === 2 && out[0] === 0xc8 && out[1] === 0x01);
 * ```
 */
export function writeVarInt(out: Uint8Array, o: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out[o++] = b;
  } while (n > 0);
  return o;
}
