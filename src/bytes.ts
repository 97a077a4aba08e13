/**
 * Little-endian integer reads and writes on plain Uint8Arrays, shared by the record formats of
 * src/ipc/ and src/mqtt/. No DataView on purpose: reaching `.buffer` of a small typed array (V8
 * keeps up to 64 bytes inside the object) moves its bytes to a malloc'd store, and records and
 * headers are small and made per message.
 *
 * @module
 */
/** Little-endian u16 at `at` (the caller checked the bounds). */
export function readU16LE(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

/** Little-endian u32 at `at` (the caller checked the bounds). */
export function readU32LE(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Writes `v` as a little-endian u32 at `at`. */
export function writeU32LE(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian f64 at `at` (the caller checked the bounds). */
export function readF64LE(b: Uint8Array, at: number): number {
  for (let k = 0; k < 8; k++) f64Bytes[littleEndianHost ? k : 7 - k] = b[at + k]!;
  return f64Scratch[0]!;
}

/**
 * Base64 (RFC 4648, with padding) of `b`, as the HTTP API and control replies carry payloads.
 *
 * @example
 * ```ts
 * import { decodeBase64, encodeBase64 } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * const b64 = encodeBase64(new TextEncoder().encode("hello"));
 * assert.ok(b64 === "aGVsbG8=");
 * assert.ok(new TextDecoder().decode(decodeBase64(b64)) === "hello");
 * ```
 */
export function encodeBase64(b: Uint8Array): string {
  let s = "";
  // String.fromCharCode in slices: one call per byte would be slow, one call for all overflows.
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The bytes of a Base64 string; throws SyntaxError when it is not Base64. */
export function decodeBase64(s: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new SyntaxError("Cannot decode Base64: invalid characters or length");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The parts one after the other in a new array.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(concatBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
