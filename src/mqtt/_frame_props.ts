/**
 * The MQTT 5 properties of one packet, checked against table 2-4: each identifier known, allowed
 * in its packet type, not repeated (User Property and a PUBLISH's Subscription Identifier may
 * be), of its data type, inside the property block, and not 0 where the spec forbids it. A
 * PUBLISH's or will's User Properties are collected in wire order. Private to src/mqtt/
 * (_frame_check.ts).
 *
 * @module
 */

import { type Reader, utf8At } from "./_frame_reader.ts";

/** Pseudo packet type for the Will Properties of CONNECT. */
export const WILL = 0;
const B = 1, U16 = 2, U32 = 3, VAR = 4, STR = 5, BIN = 6, PAIR = 7;
const ALL = 0xffff;
function m(...types: number[]): number {
  let mask = 0;
  for (const t of types) mask |= 1 << t;
  return mask;
}
// Property id → [data type, packet types allowed (bit per type)] from table 2-4. A property not
// valid for its packet type is a Malformed Packet (section 2.2.2.2).
const PROPS: ReadonlyMap<number, readonly [number, number, string]> = new Map([
  [1, [B, m(3, WILL), "Payload Format Indicator"]],
  [2, [U32, m(3, WILL), "Message Expiry Interval"]],
  [3, [STR, m(3, WILL), "Content Type"]],
  [8, [STR, m(3, WILL), "Response Topic"]],
  [9, [BIN, m(3, WILL), "Correlation Data"]],
  [11, [VAR, m(3, 8), "Subscription Identifier"]],
  [17, [U32, m(1, 2, 14), "Session Expiry Interval"]],
  [18, [STR, m(2), "Assigned Client Identifier"]],
  [19, [U16, m(2), "Server Keep Alive"]],
  [21, [STR, m(1, 2, 15), "Authentication Method"]],
  [22, [BIN, m(1, 2, 15), "Authentication Data"]],
  [23, [B, m(1), "Request Problem Information"]],
  [24, [U32, m(WILL), "Will Delay Interval"]],
  [25, [B, m(1), "Request Response Information"]],
  [26, [STR, m(2), "Response Information"]],
  [28, [STR, m(2, 14), "Server Reference"]],
  [31, [STR, m(2, 4, 5, 6, 7, 9, 11, 14, 15), "Reason String"]],
  [33, [U16, m(1, 2), "Receive Maximum"]],
  [34, [U16, m(1, 2), "Topic Alias Maximum"]],
  [35, [U16, m(3), "Topic Alias"]],
  [36, [B, m(2), "Maximum QoS"]],
  [37, [B, m(2), "Retain Available"]],
  [38, [PAIR, ALL, "User Property"]],
  [39, [U32, m(1, 2), "Maximum Packet Size"]],
  [40, [B, m(2), "Wildcard Subscription Available"]],
  [41, [B, m(2), "Subscription Identifier Available"]],
  [42, [B, m(2), "Shared Subscription Available"]],
]);

/**
 * Checks the property block at the reader's position (its length first) for packet `type`
 * (WILL for a CONNECT's will) and moves past it.
 */
export function properties(r: Reader, type: number): void {
  const len = r.varint("property length");
  r.need(len, "properties");
  const outerEnd = r.end;
  r.end = r.pos + len; // every property must end inside the property block
  let seenLo = 0;
  let seenHi = 0;
  while (r.pos < r.end) {
    const id = r.u8("property identifier");
    const def = PROPS.get(id);
    if (def === undefined) r.malformed(`unknown property identifier 0x${id.toString(16)}`);
    const [kind, allowed, name] = def;
    if ((allowed & (1 << type)) === 0) {
      r.malformed(`property ${name} is not allowed ${type === WILL ? "in a will" : "here"}`);
    }
    const bit = 1 << (id & 31);
    const seen = id < 32 ? seenLo & bit : seenHi & bit;
    // Repeatable: User Property anywhere, Subscription Identifier in PUBLISH only.
    if (seen !== 0 && id !== 38 && !(id === 11 && type === 3)) {
      r.protocol(`property ${name} appears more than once`);
    }
    if (id < 32) seenLo |= bit;
    else seenHi |= bit;
    let v = 0;
    if (kind === B) {
      v = r.u8(name);
      if (v > 1) r.protocol(`property ${name} must be 0 or 1, got ${v}`);
    } else if (kind === U16) v = r.u16(name);
    else if (kind === U32) {
      r.need(4, name);
      v = (r.u16(name) * 65536) + r.u16(name);
    } else if (kind === VAR) v = r.varint(name);
    else if (kind === STR) r.str(name);
    else if (kind === BIN) r.bin(name);
    else {
      const k = r.pos;
      r.str(`${name} name`); // [MQTT-1.5.7-1] both strings of a pair are UTF-8 strings
      const v = r.pos;
      r.str(`${name} value`);
      if (type === 3 || type === WILL) {
        (r.userProperties ??= []).push([utf8At(r.b, k), utf8At(r.b, v)]);
      }
    }
    // Zero is a Protocol Error for these (sections 3.1.2.11.3, 3.1.2.11.4, 3.8.2.1.2).
    if (v === 0 && (id === 33 || id === 39 || id === 11)) r.protocol(`property ${name} is 0`);
  }
  r.end = outerEnd;
}
