/**
 * Builds the packet objects of every type that _fast_decode.ts leaves aside (CONNECT, SUBSCRIBE,
 * UNSUBSCRIBE, DISCONNECT, AUTH, acks with properties, and the server-only types a client may not
 * send), from a frame that _frame_check.ts has already accepted, in the shape mqtt-packet's
 * parser gives them. A pure function of (frame, protocol level): it keeps nothing between calls,
 * so one connection's bytes can never change how another's are read (DESIGN.md, isolation rule).
 * Why not mqtt-packet's parser: one parser per connection costs an EventEmitter and a buffer list
 * per idle client, and one shared per isolate kept its read position (`_pos`) and its settings
 * (replaced by the last CONNECT) after an error, which let a single malformed packet break every
 * later CONNECT on the shard (issue #10). Private to src/mqtt/ (only codec.ts calls it).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Packet } from "mqtt-packet";
import type { ProtocolVersion } from "./_frame_check.ts";
import { readVarInt, varIntSize } from "./_varint.ts";

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true }); // the frame check rejected bad UTF-8

/** Packet type → mqtt-packet's `cmd` name. */
const CMDS = [
  "reserved",
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
] as const;

const BOOL = 0, I8 = 1, I16 = 2, I32 = 3, VAR = 4, STR = 5, BIN = 6, PAIR = 7;
/** Property id → [mqtt-packet's name, data type] (MQTT 5 table 2-4). */
const PROPERTIES: ReadonlyMap<number, readonly [string, number]> = new Map([
  [1, ["payloadFormatIndicator", BOOL]],
  [2, ["messageExpiryInterval", I32]],
  [3, ["contentType", STR]],
  [8, ["responseTopic", STR]],
  [9, ["correlationData", BIN]],
  [11, ["subscriptionIdentifier", VAR]],
  [17, ["sessionExpiryInterval", I32]],
  [18, ["assignedClientIdentifier", STR]],
  [19, ["serverKeepAlive", I16]],
  [21, ["authenticationMethod", STR]],
  [22, ["authenticationData", BIN]],
  [23, ["requestProblemInformation", BOOL]],
  [24, ["willDelayInterval", I32]],
  [25, ["requestResponseInformation", BOOL]],
  [26, ["responseInformation", STR]],
  [28, ["serverReference", STR]],
  [31, ["reasonString", STR]],
  [33, ["receiveMaximum", I16]],
  [34, ["topicAliasMaximum", I16]],
  [35, ["topicAlias", I16]],
  [36, ["maximumQoS", I8]],
  [37, ["retainAvailable", BOOL]],
  [38, ["userProperties", PAIR]],
  [39, ["maximumPacketSize", I32]],
  [40, ["wildcardSubscriptionAvailable", BOOL]],
  [41, ["subscriptionIdentifiersAvailable", BOOL]],
  [42, ["sharedSubscriptionAvailable", BOOL]],
]);

/** A cursor over one checked frame. */
class Cursor {
  constructor(readonly b: Uint8Array, public pos: number) {}
  u8(): number {
    return this.b[this.pos++]!;
  }
  u16(): number {
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.u16() * 65536;
    return v + this.u16();
  }
  varInt(): number {
    const v = readVarInt(this.b, this.pos);
    this.pos += varIntSize(v);
    return v;
  }
  str(): string {
    const len = this.u16();
    const s = utf8.decode(this.b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  /** A Buffer view into the frame (no copy), as mqtt-packet gives binary data. */
  bin(): Buffer {
    const len = this.u16();
    const out = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, len);
    this.pos += len;
    return out;
  }
}

/**
 * A property block at the cursor (its length first), in mqtt-packet's object form: names as
 * above, user properties grouped by name (an array when a name repeats). Undefined when empty,
 * as mqtt-packet leaves `properties` out then.
 */
function properties(c: Cursor): Record<string, unknown> | undefined {
  const len = c.varInt();
  if (len === 0) return undefined;
  const end = c.pos + len;
  const out: Record<string, unknown> = {};
  while (c.pos < end) {
    const def = PROPERTIES.get(c.u8());
    if (def === undefined) throw new SyntaxError("unknown property (the frame check missed it)");
    const [name, type] = def;
    if (type === PAIR) {
      const key = c.str();
      const value = c.str();
      const all = (out.userProperties ??= Object.create(null)) as Record<
        string,
        string | string[]
      >;
      const prev = all[key];
      if (prev === undefined) all[key] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else all[key] = [prev, value];
      continue;
    }
    const value = type === BOOL
      ? c.u8() !== 0
      : type === I8
      ? c.u8()
      : type === I16
      ? c.u16()
      : type === I32
      ? c.u32()
      : type === VAR
      ? c.varInt()
      : type === STR
      ? c.str()
      : c.bin();
    out[name] = value;
  }
  return out;
}

function withProperties(packet: Record<string, unknown>, c: Cursor): void {
  const props = properties(c);
  if (props !== undefined) packet.properties = props;
}

function connect(packet: Record<string, unknown>, c: Cursor): void {
  packet.protocolId = c.str();
  let level = c.u8();
  if (level >= 128) {
    packet.bridgeMode = true; // Mosquitto's and EMQX's bridge bit
    level -= 128;
  }
  packet.protocolVersion = level;
  const flags = c.u8();
  const hasWill = (flags & 0x04) !== 0;
  packet.clean = (flags & 0x02) !== 0;
  packet.keepalive = c.u16();
  if (level === 5) withProperties(packet, c);
  packet.clientId = c.str();
  if (hasWill) {
    const will: Record<string, unknown> = { retain: (flags & 0x20) !== 0, qos: (flags >> 3) & 3 };
    if (level === 5) withProperties(will, c);
    will.topic = c.str();
    will.payload = c.bin();
    packet.will = will;
  }
  if (flags & 0x80) packet.username = c.str();
  if (flags & 0x40) packet.password = c.bin();
}

/**
 * The packet in `frame` (whole, and accepted by checkFrame at this protocol level). `headerLen`
 * is the fixed header's length. Types a client may not send come back as a bare packet of their
 * type (cmd, flags, length): refusing them is the dispatcher's protocol decision, not the
 * decoder's.
 */
export function decodeFrame(
  frame: Uint8Array,
  headerLen: number,
  version: ProtocolVersion,
): Packet {
  const first = frame[0]!;
  const type = first >> 4;
  const length = frame.length - headerLen;
  const packet: Record<string, unknown> = {
    cmd: CMDS[type],
    retain: (first & 1) !== 0,
    qos: (first >> 1) & 3,
    dup: (first & 8) !== 0,
    length,
    topic: null,
    payload: null,
  };
  const c = new Cursor(frame, headerLen);
  const v5 = version === 5;
  switch (type) {
    case 1:
      connect(packet, c);
      break;
    case 4:
    case 5:
    case 6:
    case 7:
      packet.messageId = c.u16();
      if (v5) {
        packet.reasonCode = length > 2 ? c.u8() : 0;
        if (length > 3) withProperties(packet, c);
      }
      break;
    case 8:
    case 10: {
      packet.messageId = c.u16();
      if (v5) withProperties(packet, c);
      const end = frame.length;
      if (type === 10) {
        const unsubscriptions: string[] = [];
        while (c.pos < end) unsubscriptions.push(c.str());
        packet.unsubscriptions = unsubscriptions;
        break;
      }
      const subscriptions: Record<string, unknown>[] = [];
      while (c.pos < end) {
        const topic = c.str();
        const opts = c.u8();
        const s: Record<string, unknown> = { topic, qos: opts & 3 };
        if (v5) {
          s.nl = (opts & 0x04) !== 0;
          s.rap = (opts & 0x08) !== 0;
          s.rh = (opts >> 4) & 3;
        }
        subscriptions.push(s);
      }
      packet.subscriptions = subscriptions;
      break;
    }
    case 14:
    case 15:
      // A DISCONNECT or AUTH of remaining length 0 means reason 0x00 (sections 3.14.2.1, 3.15.2.1).
      if (v5 || type === 15) {
        packet.reasonCode = length > 0 ? c.u8() : 0;
        if (length > 1) withProperties(packet, c);
      }
      break;
    default:
      break; // PINGREQ (no body) and the server-only types, returned bare
  }
  return packet as unknown as Packet;
}
