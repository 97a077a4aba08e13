/**
 * Reader: the bounded cursor _frame_check.ts reads a packet with. Every read checks that it stays
 * inside the packet (or the property block being read) and refuses what the spec calls malformed
 * on the way: overlong or non-minimal variable byte integers, ill-formed UTF-8 and U+0000 in
 * strings. Private to src/mqtt/ (_frame_check.ts and _frame_props.ts). It allocates nothing on the
 * success path except what TextDecoder needs for non-ASCII strings.
 *
 * @module
 */

import { MqttError } from "./errors.ts";
import { ReasonCode } from "./reason_codes.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** See the file header. */
export class Reader {
  pos: number;
  /** User properties of a PUBLISH or will, in wire order (mqtt-packet groups them by name). */
  userProperties: [string, string][] | null = null;
  constructor(readonly b: Uint8Array, pos: number, public end: number, readonly name: string) {
    this.pos = pos;
  }
  malformed(reason: string): never {
    throw new MqttError(ReasonCode.MalformedPacket, `Cannot decode ${this.name}: ${reason}`);
  }
  protocol(reason: string): never {
    throw new MqttError(ReasonCode.ProtocolError, `Cannot decode ${this.name}: ${reason}`);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) this.malformed(`${what} runs past the end of the packet`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  varint(what: string): number {
    let value = 0;
    for (let i = 0, mul = 1; i < 4; i++, mul *= 128) {
      const c = this.u8(what);
      value += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) {
        // [MQTT-1.5.5-1] the minimum number of bytes.
        if (i > 0 && c === 0) this.malformed(`${what} is not minimally encoded`);
        return value;
      }
    }
    return this.malformed(`${what} is longer than 4 bytes`);
  }
  /** Skips a UTF-8 string, rejecting ill-formed UTF-8 [MQTT-1.5.4-1] and U+0000 [MQTT-1.5.4-2]. */
  str(what: string): void {
    const len = this.u16(what);
    this.need(len, what);
    const start = this.pos;
    const end = start + len;
    let ascii = true;
    for (let i = start; i < end; i++) {
      const c = this.b[i]!;
      if (c === 0) this.malformed(`${what} contains U+0000`);
      if (c >= 0x80) ascii = false;
    }
    if (!ascii) {
      try {
        utf8.decode(this.b.subarray(start, end));
      } catch {
        this.malformed(`${what} is not valid UTF-8`);
      }
    }
    this.pos = end;
  }
  bin(what: string): void {
    const len = this.u16(what);
    this.need(len, what);
    this.pos += len;
  }
}

/** The UTF-8 string (u16 length prefix) at `at`, already checked by Reader.str. */
export function utf8At(b: Uint8Array, at: number): string {
  const len = (b[at]! << 8) | b[at + 1]!;
  return utf8.decode(b.subarray(at + 2, at + 2 + len));
}
