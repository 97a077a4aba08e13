/**
 * Structural checks on one whole MQTT packet (fixed header included) before _fast_decode.ts or
 * _decode.ts build objects from it: those trust what passed here. Lengths, packet identifiers,
 * property overruns, duplicate and misplaced properties, reason codes outside their packet's
 * table, ill-formed UTF-8, U+0000 and trailing bytes are all refused here. Private to src/mqtt/ (only codec.ts calls it). It allocates nothing on the success path
 * except what TextDecoder needs for non-ASCII strings. Spec ids are MQTT 5.0 unless marked 3.1.1.
 *
 * @module
 */

import { MqttError } from "./errors.ts";
import { ReasonCode } from "./reason_codes.ts";

/** Protocol levels Culex speaks: 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0. */
export type ProtocolVersion = 3 | 4 | 5;

const NAMES = [
  "reserved packet type 0",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
];
// Fixed-header flags required per type [MQTT-2.1.3-1]; PUBLISH (3) has its own rules.
const FLAGS = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

const WILL = 0; // pseudo packet type for the Will Properties of CONNECT
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

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reader {
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

function properties(r: Reader, type: number): void {
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

/** The UTF-8 string (u16 length prefix) at `at`, already checked by Reader.str. */
function utf8At(b: Uint8Array, at: number): string {
  const len = (b[at]! << 8) | b[at + 1]!;
  return utf8.decode(b.subarray(at + 2, at + 2 + len));
}

// Reason codes each packet type may carry (MQTT 5 sections 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1,
// 3.14.2.1, 3.15.2.1). Any other value is a Malformed Packet, as a reason code outside its
// packet's table does not conform to the specification.
const PUBACK_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_CODES = new Set([0x00, 0x92]);
// Every DISCONNECT reason code of table 3-10 [MQTT-3.14.2-1], including those the table marks as
// the server's: a client that uses one still ends its connection on purpose.
const DISCONNECT_CODES = new Set([
  0x00,
  0x04,
  0x80,
  0x81,
  0x82,
  0x83,
  0x87,
  0x89,
  0x8b,
  0x8d,
  0x8e,
  0x8f,
  0x90,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
  0x99,
  0x9a,
  0x9b,
  0x9c,
  0x9d,
  0x9e,
  0x9f,
  0xa0,
  0xa1,
  0xa2,
]);
const AUTH_CODES = new Set([0x00, 0x18, 0x19]);

function reasonCode(r: Reader, allowed: ReadonlySet<number>): void {
  const code = r.u8("reason code");
  if (!allowed.has(code)) r.malformed(`reason code 0x${code.toString(16)} is not valid here`);
}

function packetId(r: Reader): void {
  // [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]) Packet identifiers are non-zero.
  if (r.u16("packet identifier") === 0) r.malformed("packet identifier is 0");
}

function connect(r: Reader): void {
  const nameLen = r.u16("protocol name");
  r.need(nameLen, "protocol name");
  const b = r.b;
  const p = r.pos;
  const isMqtt = nameLen === 4 && b[p] === 0x4d && b[p + 1] === 0x51 && b[p + 2] === 0x54 &&
    b[p + 3] === 0x54;
  const isMqisdp = nameLen === 6 &&
    String.fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!) === "MQIsdp";
  r.pos += nameLen;
  const level = r.u8("protocol level") & 0x7f; // bit 7: bridge mode (Mosquitto, EMQX)
  // [MQTT-3.1.2-1] [MQTT-3.1.2-2] Unknown name or level: answered with 0x84 (3.1.1: return code 1).
  if (!((isMqtt && (level === 4 || level === 5)) || (isMqisdp && level === 3))) {
    throw new MqttError(
      ReasonCode.UnsupportedProtocolVersion,
      `Cannot decode CONNECT: unsupported protocol name or level ${level}`,
    );
  }
  const flags = r.u8("connect flags");
  // [MQTT-3.1.2-3] The reserved flag must be 0.
  if (flags & 1) r.malformed("reserved connect flag is set");
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  // [MQTT-3.1.2-11] [MQTT-3.1.2-13] Without a will, Will QoS and Will Retain are 0.
  if (!will && (willQos !== 0 || (flags & 0x20) !== 0)) {
    r.malformed("will flags set without a will");
  }
  // [MQTT-3.1.2-12] Will QoS 3 is not a QoS.
  if (willQos === 3) r.malformed("will QoS is 3");
  // 3.1.1 [MQTT-3.1.2-22]: a password needs a user name (5.0 lifted this).
  if (level !== 5 && (flags & 0xc0) === 0x40) r.malformed("password flag set without user name");
  r.u16("keep alive");
  if (level === 5) properties(r, 1);
  r.str("client identifier"); // [MQTT-3.1.3-4]
  if (will) {
    if (level === 5) properties(r, WILL);
    r.str("will topic"); // [MQTT-3.1.3-11]
    r.bin("will payload");
  }
  if (flags & 0x80) r.str("user name"); // [MQTT-3.1.3-12]
  if (flags & 0x40) r.bin("password");
}

/**
 * Checks one whole packet; throws MqttError (0x81 Malformed Packet, 0x82 Protocol Error,
 * 0x84 Unsupported Protocol Version) when it breaks the rules above. Returns the user
 * properties of a PUBLISH (or of a CONNECT's will) in wire order, null when there are none.
 * `headerLen` is 1 + the length of the remaining-length field; `version` is the connection's
 * protocol level (a CONNECT carries its own).
 */
export function checkFrame(
  frame: Uint8Array,
  headerLen: number,
  version: ProtocolVersion,
): [string, string][] | null {
  const b0 = frame[0]!;
  const type = b0 >> 4;
  const flags = b0 & 0x0f;
  const r = new Reader(frame, headerLen, frame.length, NAMES[type]!);
  const v5 = version === 5;
  const len = frame.length - headerLen;
  if (type === 0 || (type === 15 && !v5)) r.malformed("reserved packet type");
  if (type === 3) {
    // [MQTT-3.3.1-4] Both QoS bits set is a Malformed Packet.
    const qos = (flags >> 1) & 3;
    if (qos === 3) r.malformed("QoS is 3");
    r.str("topic name"); // [MQTT-3.3.2-1]
    if (qos > 0) packetId(r);
    if (v5) properties(r, 3);
    return r.userProperties; // the rest is payload
  }
  // [MQTT-2.1.3-1] Reserved flag bits (PUBREL, SUBSCRIBE, UNSUBSCRIBE: 0b0010 [MQTT-3.6.1-1]
  // [MQTT-3.8.1-1] [MQTT-3.10.1-1]; all others 0).
  if (flags !== FLAGS[type]) r.malformed(`fixed header flags must be ${FLAGS[type]}, got ${flags}`);
  switch (type) {
    case 1:
      connect(r);
      break;
    case 4:
    case 5:
    case 6:
    case 7:
      packetId(r);
      if (!v5) break;
      if (len > 2) reasonCode(r, type <= 5 ? PUBACK_CODES : PUBREL_CODES);
      if (len > 3) properties(r, type);
      break;
    case 8:
    case 10:
      packetId(r);
      if (v5) properties(r, type);
      // [MQTT-3.8.3-2] [MQTT-3.10.3-2] At least one topic filter.
      if (r.pos === r.end) r.protocol("no topic filter");
      while (r.pos < r.end) {
        r.str("topic filter"); // [MQTT-3.8.3-1] [MQTT-3.10.3-1]
        if (type === 10) continue;
        const opts = r.u8("subscription options");
        // [MQTT-3.8.3-5] reserved bits 6-7 (3.1.1 [MQTT-3-8.3-4]: bits 2-7) must be 0.
        if (opts & (v5 ? 0xc0 : 0xfc)) r.malformed("reserved subscription option bits are set");
        if ((opts & 3) === 3) r.malformed("requested QoS is 3");
        if (((opts >> 4) & 3) === 3) r.protocol("retain handling is 3");
      }
      break;
    case 14:
    case 15:
      if (!v5) break;
      if (len > 0) reasonCode(r, type === 14 ? DISCONNECT_CODES : AUTH_CODES);
      if (len > 1) properties(r, type);
      break;
    default:
      // PINGREQ has no body. CONNACK, SUBACK, UNSUBACK and PINGRESP are never valid from a
      // client: the dispatcher refuses them (Protocol Error) whatever their body holds.
      if (type === 12) break;
      return null;
  }
  if (r.pos !== r.end) r.malformed(`${r.end - r.pos} unexpected bytes at the end`);
  return r.userProperties;
}
