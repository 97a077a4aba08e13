/**
 * Builds the packet objects of the hot packet types (PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
 * PINGREQ) straight from a frame that _frame_check.ts has already accepted, in the exact shape
 * mqtt-packet's parser gives them. mqtt-packet's parser copies every packet through a buffer list
 * and calls its (disabled) debug logger a dozen times per packet; on the message path that was
 * over a third of a shard's allocations, and so of its garbage collection pauses. Every other
 * packet type goes to mqtt-packet as before. Private to src/mqtt/ (only codec.ts calls it).
 *
 * @module
 */

import type { IPublishPacket, Packet } from "mqtt-packet";
import type { ProtocolVersion } from "./_frame_check.ts";
import { readVarInt, varIntSize } from "./_varint.ts";

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true }); // the frame check rejected bad UTF-8

const ACKS = ["puback", "pubrec", "pubrel", "pubcomp"] as const;

/** The string of `len` bytes at `at`; short ASCII strings skip the TextDecoder call. */
function strAt(b: Uint8Array, at: number, len: number): string {
  if (len <= 32) {
    let s = "";
    for (let i = at, end = at + len; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8.decode(b.subarray(at, at + len));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(b.subarray(at, at + len));
}

function u16At(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/**
 * The packet in `frame` (whole, checked), or null when its type is not one of the hot ones.
 * `headerLen` is the fixed header's length (type byte and remaining length).
 */
export function fastDecode(
  frame: Uint8Array,
  headerLen: number,
  version: ProtocolVersion,
): Packet | null {
  const first = frame[0]!;
  const type = first >> 4;
  const length = frame.length - headerLen;
  if (type === 3) return publish(frame, headerLen, version, first, length);
  if (type >= 4 && type <= 7) {
    const messageId = u16At(frame, headerLen);
    const ack: Record<string, unknown> = {
      cmd: ACKS[type - 4],
      retain: (first & 1) !== 0,
      qos: (first >> 1) & 3,
      dup: (first & 8) !== 0,
      length,
      topic: null,
      payload: null,
      messageId,
    };
    if (version === 5) {
      // Properties on an ack (length > 3) are rare: mqtt-packet builds those.
      if (length > 3) return null;
      ack.reasonCode = length > 2 ? frame[headerLen + 2]! : 0;
    }
    return ack as unknown as Packet;
  }
  if (type === 12) {
    return {
      cmd: "pingreq",
      retain: false,
      qos: 0,
      dup: false,
      length,
      topic: null,
      payload: null,
    } as unknown as Packet;
  }
  return null;
}

function publish(
  b: Uint8Array,
  at: number,
  version: ProtocolVersion,
  first: number,
  length: number,
): IPublishPacket {
  const qos = ((first >> 1) & 3) as 0 | 1 | 2;
  const topicLen = u16At(b, at);
  const topic = strAt(b, at + 2, topicLen);
  let pos = at + 2 + topicLen;
  const packet: IPublishPacket = {
    cmd: "publish",
    retain: (first & 1) !== 0,
    qos,
    dup: (first & 8) !== 0,
    length,
    topic,
    payload: null as unknown as Uint8Array as IPublishPacket["payload"],
  };
  if (qos > 0) {
    packet.messageId = u16At(b, pos);
    pos += 2;
  }
  if (version === 5) {
    const propLen = readVarInt(b, pos);
    pos += varIntSize(propLen);
    if (propLen > 0) {
      packet.properties = properties(b, pos, pos + propLen);
      pos += propLen;
    }
  }
  // A view into the chunk, as mqtt-packet gives for a packet inside one chunk (see codec.ts).
  packet.payload = b.subarray(pos) as unknown as IPublishPacket["payload"];
  return packet;
}

type PublishProperties = NonNullable<IPublishPacket["properties"]>;

function properties(b: Uint8Array, pos: number, end: number): PublishProperties {
  const p: Record<string, unknown> = {};
  while (pos < end) {
    const id = b[pos++]!;
    switch (id) {
      case 1:
        p.payloadFormatIndicator = b[pos++] !== 0;
        break;
      case 2:
        p.messageExpiryInterval = ((b[pos]! << 24) >>> 0) + (b[pos + 1]! << 16) +
          (b[pos + 2]! << 8) + b[pos + 3]!;
        pos += 4;
        break;
      case 3:
      case 8: {
        const len = u16At(b, pos);
        p[id === 3 ? "contentType" : "responseTopic"] = strAt(b, pos + 2, len);
        pos += 2 + len;
        break;
      }
      case 9: {
        const len = u16At(b, pos);
        p.correlationData = b.subarray(pos + 2, pos + 2 + len);
        pos += 2 + len;
        break;
      }
      case 11: {
        const v = readVarInt(b, pos);
        pos += varIntSize(v);
        const prev = p.subscriptionIdentifier;
        if (prev === undefined) p.subscriptionIdentifier = v;
        else if (Array.isArray(prev)) prev.push(v);
        else p.subscriptionIdentifier = [prev, v];
        break;
      }
      case 35:
        p.topicAlias = u16At(b, pos);
        pos += 2;
        break;
      case 38: {
        const kLen = u16At(b, pos);
        const name = strAt(b, pos + 2, kLen);
        pos += 2 + kLen;
        const vLen = u16At(b, pos);
        const value = strAt(b, pos + 2, vLen);
        pos += 2 + vLen;
        // Grouped by name as mqtt-packet does; codec.ts keeps the wire order separately.
        const all = (p.userProperties ??= Object.create(null)) as Record<string, string | string[]>;
        const prev = all[name];
        if (prev === undefined) all[name] = value;
        else if (Array.isArray(prev)) prev.push(value);
        else all[name] = [prev, value];
        break;
      }
      default:
        // The frame check allows no other property in a PUBLISH.
        throw new Error(`fastDecode: unexpected property 0x${id.toString(16)} in PUBLISH`);
    }
  }
  return p as PublishProperties;
}
