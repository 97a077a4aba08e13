/**
 * Test helper: MQTT control packets read off the wire and decoded (CONNACK, PUBLISH, SUBACK,
 * acknowledgements, DISCONNECT) from the MQTT 3.1.1 and 5.0 specifications. Pure: no I/O.
 * Shares nothing with the broker's codec. The builders are in packets.ts; raw_client.ts
 * re-exports both.
 */

import { hex, PacketType, type ProtocolLevel, type RawPacket, readVarInt } from "./packets.ts";

function readU16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

/** A decoded CONNACK. */
export interface Connack {
  sessionPresent: boolean;
  /** 3.x return code or 5.0 reason code. */
  code: number;
  /** MQTT 5 properties, raw (identifier → value bytes of the first occurrence). */
  properties: Map<number, Uint8Array>;
}

function readProperties(b: Uint8Array, off: number): {
  props: Map<number, Uint8Array>;
  end: number;
} {
  const { value: len, size } = readVarInt(b, off);
  const props = new Map<number, Uint8Array>();
  let p = off + size;
  const end = p + len;
  while (p < end) {
    const id = b[p++] ?? 0;
    let n: number;
    switch (id) {
      case 0x01: // payload format, request problem info, etc.: one byte
      case 0x17:
      case 0x19:
      case 0x24:
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2a:
        n = 1;
        break;
      case 0x13: // two-byte integers
      case 0x21:
      case 0x22:
      case 0x23:
        n = 2;
        break;
      case 0x02: // four-byte integers
      case 0x11:
      case 0x18:
      case 0x27:
        n = 4;
        break;
      case 0x0b: // variable byte integer
        n = readVarInt(b, p).size;
        break;
      case 0x26: { // user property: string pair
        const k = readU16(b, p);
        const v = readU16(b, p + 2 + k);
        n = 4 + k + v;
        break;
      }
      default: // strings and binary data
        n = 2 + readU16(b, p);
    }
    if (!props.has(id)) props.set(id, b.subarray(p, p + n));
    p += n;
  }
  return { props, end };
}

/** Decodes a UTF-8 string property value (2-byte length prefix). */
export function propString(v: Uint8Array | undefined): string | undefined {
  if (!v) return undefined;
  return new TextDecoder().decode(v.subarray(2, 2 + readU16(v, 0)));
}

/** Decodes a CONNACK [MQTT 3.1.1 3.2, MQTT 5 3.2]. */
export function parseConnack(p: RawPacket, version: ProtocolLevel): Connack {
  if (p.type !== PacketType.CONNACK) throw new Error(`Expected CONNACK, got ${hex(p.bytes)}`);
  const properties = version === 5 && p.body.length > 2
    ? readProperties(p.body, 2).props
    : new Map<number, Uint8Array>();
  return { sessionPresent: ((p.body[0] ?? 0) & 1) === 1, code: p.body[1] ?? -1, properties };
}

/** A decoded PUBLISH. */
export interface Publish {
  topic: string;
  payload: string;
  qos: number;
  dup: boolean;
  retain: boolean;
  packetId: number | null;
}

/** Decodes a PUBLISH [MQTT 3.1.1 3.3, MQTT 5 3.3]. */
export function parsePublish(p: RawPacket, version: ProtocolLevel): Publish {
  if (p.type !== PacketType.PUBLISH) throw new Error(`Expected PUBLISH, got ${hex(p.bytes)}`);
  const qos = (p.flags >> 1) & 3;
  const tlen = readU16(p.body, 0);
  const topic = new TextDecoder().decode(p.body.subarray(2, 2 + tlen));
  let off = 2 + tlen;
  let packetId: number | null = null;
  if (qos > 0) {
    packetId = readU16(p.body, off);
    off += 2;
  }
  if (version === 5) off = readProperties(p.body, off).end;
  return {
    topic,
    payload: new TextDecoder().decode(p.body.subarray(off)),
    qos,
    dup: (p.flags & 0x08) !== 0,
    retain: (p.flags & 0x01) !== 0,
    packetId,
  };
}

/** Decodes a SUBACK's packet id and return/reason codes. */
export function parseSuback(
  p: RawPacket,
  version: ProtocolLevel,
): { packetId: number; codes: number[] } {
  if (p.type !== PacketType.SUBACK) throw new Error(`Expected SUBACK, got ${hex(p.bytes)}`);
  const off = version === 5 ? readProperties(p.body, 2).end : 2;
  return { packetId: readU16(p.body, 0), codes: Array.from(p.body.subarray(off)) };
}

/** Decodes an acknowledgement (PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK): id and reason (0 if absent). */
export function parseAck(p: RawPacket): { packetId: number; reason: number } {
  return { packetId: readU16(p.body, 0), reason: p.body.length > 2 ? (p.body[2] ?? 0) : 0 };
}

/** Reason code of a DISCONNECT (0x00 when the body is empty) [MQTT 5 3.14.2.1]. */
export function disconnectReason(p: RawPacket): number {
  return p.body.length > 0 ? (p.body[0] ?? 0) : 0;
}
