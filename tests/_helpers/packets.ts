/**
 * Test helper: MQTT control packets as bytes, built and decoded from the MQTT 3.1, 3.1.1 and 5.0
 * specifications (fixed header, variable header, payload). Pure: no I/O. Shares nothing with the
 * broker's codec, so that the suite judges it from the outside. RawClient (raw_client.ts) sends
 * and reads these; the decoders are in packet_parse.ts.
 */

/** A control packet as read off the wire. */
export interface RawPacket {
  /** Packet type, the high nibble of the first byte (1 = CONNECT ... 15 = AUTH). */
  type: number;
  /** Low nibble of the first byte. */
  flags: number;
  /** Variable header and payload. */
  body: Uint8Array;
  /** The whole packet, fixed header included. */
  bytes: Uint8Array;
}

/** Packet type numbers [MQTT 3.1.1 table 2.1]. */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

const encoder = new TextEncoder();

/** Hex dump for error messages. */
export function hex(bytes: Uint8Array | readonly number[]): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Concatenates byte arrays and plain number arrays. */
export function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const arrays = parts.map((p) => p instanceof Uint8Array ? p : Uint8Array.from(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

/** Variable Byte Integer encoding of a remaining length [MQTT 3.1.1 2.2.3]. */
export function varInt(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0 && out.length < 4);
  return Uint8Array.from(out);
}

/** A length-prefixed UTF-8 string, or raw bytes given as a Uint8Array [MQTT 3.1.1 1.5.3]. */
export function str(s: string | Uint8Array): Uint8Array {
  const b = typeof s === "string" ? encoder.encode(s) : s;
  return concat([[b.length >> 8, b.length & 0xff], b]);
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function packet(firstByte: number, ...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const body = concat(parts);
  return concat([[firstByte], varInt(body.length), body]);
}

/** MQTT protocol level: 3 = 3.1 (MQIsdp), 4 = 3.1.1, 5 = 5.0. */
export type ProtocolLevel = 3 | 4 | 5;

/** Fields of a CONNECT packet. */
export interface ConnectFields {
  version: ProtocolLevel;
  clientId: string;
  /** Clean Session (3.x) / Clean Start (5); default true. */
  clean?: boolean;
  /** Seconds; default 60. */
  keepalive?: number;
  will?: { topic: string; payload: string; qos?: 0 | 1 | 2; retain?: boolean };
  /** MQTT 5 Session Expiry Interval property (seconds). */
  sessionExpiry?: number;
  /** Overrides the protocol level byte (for unsupported-level tests). */
  levelByte?: number;
  username?: string;
  password?: string;
}

/** CONNECT [MQTT 3.1.1 3.1, MQTT 5 3.1]; 3.1 uses protocol name "MQIsdp". */
export function connectPacket(f: ConnectFields): Uint8Array {
  const name = f.version === 3 ? "MQIsdp" : "MQTT";
  let flags = (f.clean === false ? 0 : 0x02) | (f.username !== undefined ? 0x80 : 0) |
    (f.password !== undefined ? 0x40 : 0);
  if (f.will) {
    flags |= 0x04 | ((f.will.qos ?? 0) << 3) | (f.will.retain ? 0x20 : 0);
  }
  const props: number[] = [];
  if (f.version === 5 && f.sessionExpiry !== undefined) {
    const s = f.sessionExpiry;
    props.push(0x11, (s >>> 24) & 0xff, (s >>> 16) & 0xff, (s >>> 8) & 0xff, s & 0xff);
  }
  const variable = concat([
    str(name),
    [f.levelByte ?? f.version, flags],
    u16(f.keepalive ?? 60),
    f.version === 5 ? concat([varInt(props.length), props]) : [],
  ]);
  const payload: (Uint8Array | number[])[] = [str(f.clientId)];
  if (f.will) {
    if (f.version === 5) payload.push([0]); // will properties: none
    payload.push(str(f.will.topic), str(f.will.payload));
  }
  if (f.username !== undefined) payload.push(str(f.username));
  if (f.password !== undefined) payload.push(str(f.password));
  return packet(0x10, variable, ...payload);
}

/** Fields of a PUBLISH packet. */
export interface PublishFields {
  version: ProtocolLevel;
  /** A string, or raw bytes to send invalid UTF-8. */
  topic: string | Uint8Array;
  payload?: string | Uint8Array;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
}

/** PUBLISH [MQTT 3.1.1 3.3, MQTT 5 3.3]. */
export function publishPacket(f: PublishFields): Uint8Array {
  const qos = f.qos ?? 0;
  const first = 0x30 | (f.dup ? 0x08 : 0) | (qos << 1) | (f.retain ? 0x01 : 0);
  const payload = typeof f.payload === "string"
    ? encoder.encode(f.payload)
    : f.payload ?? new Uint8Array();
  return packet(
    first,
    str(f.topic),
    qos > 0 ? u16(f.packetId ?? 1) : [],
    f.version === 5 ? [0] : [],
    payload,
  );
}

/** SUBSCRIBE [MQTT 3.1.1 3.8, MQTT 5 3.8]; fixed header flags 0010. */
export function subscribePacket(
  version: ProtocolLevel,
  packetId: number,
  filters: readonly { topic: string | Uint8Array; qos: 0 | 1 | 2 }[],
): Uint8Array {
  const parts: (Uint8Array | number[])[] = [u16(packetId)];
  if (version === 5) parts.push([0]);
  for (const f of filters) parts.push(str(f.topic), [f.qos]);
  return packet(0x82, ...parts);
}

/** UNSUBSCRIBE [MQTT 3.1.1 3.10, MQTT 5 3.10]; fixed header flags 0010. */
export function unsubscribePacket(
  version: ProtocolLevel,
  packetId: number,
  filters: readonly string[],
): Uint8Array {
  const parts: (Uint8Array | number[])[] = [u16(packetId)];
  if (version === 5) parts.push([0]);
  for (const f of filters) parts.push(str(f));
  return packet(0xa2, ...parts);
}

/** PUBACK with success: the 2-byte form is valid in 3.1.1 and 5.0 [MQTT 5 3.4.2.1]. */
export function pubackPacket(packetId: number): Uint8Array {
  return packet(0x40, u16(packetId));
}
/** PUBREC with success. */
export function pubrecPacket(packetId: number): Uint8Array {
  return packet(0x50, u16(packetId));
}
/** PUBREL; fixed header flags 0010 [MQTT-3.6.1-1]. */
export function pubrelPacket(packetId: number): Uint8Array {
  return packet(0x62, u16(packetId));
}
/** PUBCOMP with success. */
export function pubcompPacket(packetId: number): Uint8Array {
  return packet(0x70, u16(packetId));
}
/** PINGREQ. */
export const PINGREQ: Uint8Array = Uint8Array.from([0xc0, 0x00]);
/** PINGRESP, as the server must send it [MQTT-3.12.4-1]. */
export const PINGRESP: Uint8Array = Uint8Array.from([0xd0, 0x00]);
/** DISCONNECT (3.1.1, and 5.0 with reason 0x00 omitted). */
export const DISCONNECT: Uint8Array = Uint8Array.from([0xe0, 0x00]);

/** Reads a Variable Byte Integer at off; size is how many bytes it took. */
export function readVarInt(b: Uint8Array, off: number): { value: number; size: number } {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    const byte = b[off + i] ?? 0;
    value += (byte & 0x7f) * mult;
    if ((byte & 0x80) === 0) return { value, size: i + 1 };
    mult *= 128;
  }
  throw new SyntaxError(`Cannot read variable byte integer at ${off}: more than 4 bytes`);
}
