/**
 * Shared helpers of the codec tests (codec_test.ts, codec_v5_test.ts): byte literals, and
 * unwrapping the DecodeResults of a PacketDecoder. Test-only; not exported from mod.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import { type DecodeResult, type Packet, PacketDecoder } from "./codec.ts";

/** Bytes from numbers. */
export const u8 = (...b: number[]) => new Uint8Array(b);

/** Bytes of `parts`, one after the other. */
export const concat = (...parts: Uint8Array[]) => concatBytes(parts);

/** The packet of `r`; fails the test when `r` is an error or missing. */
export function ok(r: DecodeResult | undefined): Packet {
  assert.ok(r !== undefined && r.ok, `expected a packet, got ${JSON.stringify(r)}`);
  return r.packet;
}

/** Asserts the last result is an error with reason `code` (and message matching `text`). */
export function failure(results: DecodeResult[], code: number, text?: string): void {
  const last = results[results.length - 1];
  assert.ok(last !== undefined && !last.ok, `expected an error, got ${JSON.stringify(results)}`);
  assert.equal(last.reasonCode, code, last.message);
  if (text !== undefined) assert.match(last.message, new RegExp(text));
}

/** Feeds `chunks` to one new decoder of max packet size `max`; all results in order. */
export function decodeChunks(chunks: Uint8Array[], max = 1 << 20): DecodeResult[] {
  const d = new PacketDecoder({ maxPacketSize: max });
  return chunks.flatMap((c) => d.push(c));
}
