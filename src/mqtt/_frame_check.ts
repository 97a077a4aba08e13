/**
 * Structural checks on one whole MQTT packet (fixed header included) before _fast_decode.ts or
 * _decode.ts build objects from it: those trust what passed here. Lengths, packet identifiers,
 * property overruns, duplicate and misplaced properties, reason codes outside their packet's
 * table, ill-formed UTF-8, U+0000 and trailing bytes are all refused here; the bounded reads are
 * _frame_reader.ts, the property table and its checks _frame_props.ts. Private to src/mqtt/ (only
 * codec.ts calls it). It allocates nothing on the success path except what TextDecoder needs for
 * non-ASCII strings. Spec ids are MQTT 5.0 unless marked 3.1.1.
 *
 * @module
 */

import { MqttError } from "./errors.ts";
import { ReasonCode } from "./reason_codes.ts";
import { Reader } from "./_frame_reader.ts";
import { properties, WILL } from "./_frame_props.ts";

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
