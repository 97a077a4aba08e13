/**
 * Test helper: MQTT 5.0 packets with properties, as bytes, built and decoded from the MQTT 5.0
 * specification (sections 3.1-3.15), plus a raw v5 handshake and reading the server's DISCONNECT.
 *
 * Pure except for openRaw5() and serverDisconnect(), which drive a RawClient. Properties are
 * encoded and decoded by props5.ts (re-exported here). Shares nothing with the broker's codec.
 */

import { decodeProps, encodeProps, type Property, u16At } from "./props5.ts";
import { concat, hex, PacketType, RawClient, type RawPacket, str, varInt } from "./raw_client.ts";

export * from "./props5.ts";

const decoder = new TextDecoder();

function packet(firstByte: number, ...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const body = concat(parts);
  return concat([[firstByte], varInt(body.length), body]);
}
const enc = new TextEncoder();

/** Fields of an MQTT 5.0 CONNECT. */
export interface Connect5Fields {
  clientId: string;
  /** Clean Start; default true. */
  clean?: boolean;
  /** Seconds; default 60. */
  keepalive?: number;
  props?: readonly Property[];
  will?: {
    topic: string;
    payload: string;
    qos?: 0 | 1 | 2;
    retain?: boolean;
    props?: readonly Property[];
  };
  username?: string;
  password?: string;
}

/** CONNECT, protocol level 5 [MQTT 5.0 3.1]. */
export function connect5Packet(f: Connect5Fields): Uint8Array {
  let flags = f.clean === false ? 0 : 0x02;
  if (f.will) flags |= 0x04 | ((f.will.qos ?? 0) << 3) | (f.will.retain ? 0x20 : 0);
  if (f.username !== undefined) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const k = f.keepalive ?? 60;
  const payload: Uint8Array[] = [str(f.clientId)];
  if (f.will) {
    payload.push(encodeProps(f.will.props ?? []), str(f.will.topic), str(f.will.payload));
  }
  if (f.username !== undefined) payload.push(str(f.username));
  if (f.password !== undefined) payload.push(str(f.password));
  return packet(
    0x10,
    str("MQTT"),
    [5, flags, (k >> 8) & 0xff, k & 0xff],
    encodeProps(f.props ?? []),
    ...payload,
  );
}

/** Fields of an MQTT 5.0 PUBLISH. */
export interface Publish5Fields {
  /** May be "" to use a Topic Alias. */
  topic: string;
  payload?: string | Uint8Array;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
  props?: readonly Property[];
}

/** PUBLISH with properties [MQTT 5.0 3.3]. */
export function publish5Packet(f: Publish5Fields): Uint8Array {
  const qos = f.qos ?? 0;
  const first = 0x30 | (f.dup ? 0x08 : 0) | (qos << 1) | (f.retain ? 0x01 : 0);
  const payload = typeof f.payload === "string"
    ? enc.encode(f.payload)
    : f.payload ?? new Uint8Array();
  const pid = f.packetId ?? 1;
  return packet(
    first,
    str(f.topic),
    qos > 0 ? [(pid >> 8) & 0xff, pid & 0xff] : [],
    encodeProps(f.props ?? []),
    payload,
  );
}

/** One Topic Filter with its Subscription Options [MQTT 5.0 3.8.3.1]. */
export interface Subscription5 {
  topic: string;
  qos: 0 | 1 | 2;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  /** 0, 1 or 2 (3 is a protocol error, for negative tests). */
  retainHandling?: number;
}

/** SUBSCRIBE with properties (e.g. a Subscription Identifier) [MQTT 5.0 3.8]. */
export function subscribe5Packet(
  packetId: number,
  filters: readonly Subscription5[],
  props: readonly Property[] = [],
): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([packetId >> 8, packetId & 0xff])];
  parts.push(encodeProps(props));
  for (const f of filters) {
    const opts = f.qos | (f.noLocal ? 0x04 : 0) | (f.retainAsPublished ? 0x08 : 0) |
      ((f.retainHandling ?? 0) << 4);
    parts.push(str(f.topic), Uint8Array.from([opts]));
  }
  return packet(0x82, ...parts);
}

/** UNSUBSCRIBE, v5 (empty properties) [MQTT 5.0 3.10]. */
export function unsubscribe5Packet(packetId: number, filters: readonly string[]): Uint8Array {
  return packet(0xa2, [packetId >> 8, packetId & 0xff], [0], ...filters.map((f) => str(f)));
}

/** PUBACK with a reason code (v5 long form) [MQTT 5.0 3.4.2]. */
export function puback5Packet(packetId: number, reason: number): Uint8Array {
  return packet(0x40, [packetId >> 8, packetId & 0xff, reason, 0]);
}

/** DISCONNECT with a reason code and properties [MQTT 5.0 3.14]. */
export function disconnect5Packet(reason: number, props: readonly Property[] = []): Uint8Array {
  return packet(0xe0, [reason], encodeProps(props));
}

/** AUTH with a reason code and properties [MQTT 5.0 3.15]. */
export function authPacket(reason: number, props: readonly Property[] = []): Uint8Array {
  return packet(0xf0, [reason], encodeProps(props));
}

/** A decoded v5 CONNACK. */
export interface Connack5 {
  sessionPresent: boolean;
  reason: number;
  props: Property[];
}

/** Decodes a v5 CONNACK [MQTT 5.0 3.2]. */
export function parseConnack5(p: RawPacket): Connack5 {
  if (p.type !== PacketType.CONNACK) throw new Error(`Expected CONNACK, got ${hex(p.bytes)}`);
  const props = p.body.length > 2 ? decodeProps(p.body, 2).props : [];
  return { sessionPresent: ((p.body[0] ?? 0) & 1) === 1, reason: p.body[1] ?? -1, props };
}

/** A decoded v5 PUBLISH. */
export interface Publish5 {
  topic: string;
  payload: Uint8Array;
  /** Payload decoded as UTF-8. */
  text: string;
  qos: number;
  dup: boolean;
  retain: boolean;
  packetId: number | null;
  props: Property[];
}

/** Decodes a v5 PUBLISH [MQTT 5.0 3.3]. */
export function parsePublish5(p: RawPacket): Publish5 {
  if (p.type !== PacketType.PUBLISH) throw new Error(`Expected PUBLISH, got ${hex(p.bytes)}`);
  const qos = (p.flags >> 1) & 3;
  const tlen = u16At(p.body, 0);
  const topic = decoder.decode(p.body.subarray(2, 2 + tlen));
  let off = 2 + tlen;
  let packetId: number | null = null;
  if (qos > 0) {
    packetId = u16At(p.body, off);
    off += 2;
  }
  const { props, end } = decodeProps(p.body, off);
  const payload = p.body.slice(end);
  return {
    topic,
    payload,
    text: decoder.decode(payload),
    qos,
    dup: (p.flags & 0x08) !== 0,
    retain: (p.flags & 0x01) !== 0,
    packetId,
    props,
  };
}

/** Decodes PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK-style ids, reason (0 when absent) and props. */
export function parseAck5(p: RawPacket): { packetId: number; reason: number; props: Property[] } {
  const packetId = u16At(p.body, 0);
  if (p.body.length <= 2) return { packetId, reason: 0, props: [] };
  const props = p.body.length > 3 ? decodeProps(p.body, 3).props : [];
  return { packetId, reason: p.body[2] ?? 0, props };
}

/** Decodes a v5 SUBACK or UNSUBACK: packet id and one reason code per filter. */
export function parseSubAck5(p: RawPacket): { packetId: number; codes: number[] } {
  const { end } = decodeProps(p.body, 2);
  return { packetId: u16At(p.body, 0), codes: Array.from(p.body.subarray(end)) };
}

/** Decodes a DISCONNECT: reason (0x00 when the body is empty) and properties. */
export function parseDisconnect5(p: RawPacket): { reason: number; props: Property[] } {
  if (p.type !== PacketType.DISCONNECT) throw new Error(`Expected DISCONNECT, got ${hex(p.bytes)}`);
  const reason = p.body.length > 0 ? (p.body[0] ?? 0) : 0;
  const props = p.body.length > 1 ? decodeProps(p.body, 1).props : [];
  return { reason, props };
}

/**
 * Opens a raw connection, sends a v5 CONNECT and reads the CONNACK. Fails unless the CONNACK
 * accepts the connection (reason < 0x80). The caller closes the RawClient.
 */
export async function openRaw5(
  port: number,
  fields: Connect5Fields,
  timeoutMs = 5_000,
): Promise<{ raw: RawClient; connack: Connack5 }> {
  const raw = await RawClient.connect(port, timeoutMs);
  try {
    await raw.send(connect5Packet(fields));
    const connack = parseConnack5(await raw.expectPacket("CONNACK", timeoutMs));
    if (connack.reason >= 0x80) {
      throw new Error(`CONNACK refused ${fields.clientId}: 0x${connack.reason.toString(16)}`);
    }
    return { raw, connack };
  } catch (e) {
    await raw.close();
    throw e;
  }
}

/**
 * Reads packets until the broker closes the connection (bounded by timeoutMs) and returns the
 * DISCONNECT it sent first, decoded, or null when it closed without one. Packets other than
 * DISCONNECT that arrive first fail the read unless `allow` accepts them.
 */
export async function serverDisconnect(
  raw: RawClient,
  what: string,
  opts: { timeoutMs?: number; allow?: (p: RawPacket) => boolean } = {},
): Promise<{ reason: number; props: Property[] } | null> {
  const seen = await raw.expectClose(what, {
    timeoutMs: opts.timeoutMs ?? 5_000,
    allow: (p) => p.type === PacketType.DISCONNECT || (opts.allow?.(p) ?? false),
  });
  const d = seen.find((p) => p.type === PacketType.DISCONNECT);
  return d ? parseDisconnect5(d) : null;
}

/** Like serverDisconnect(), but returns only the DISCONNECT's reason code (or null). */
export async function closeReason(
  raw: RawClient,
  what: string,
  opts: { timeoutMs?: number; allow?: (p: RawPacket) => boolean } = {},
): Promise<number | null> {
  return (await serverDisconnect(raw, what, opts))?.reason ?? null;
}

/** Formats a reason code for messages: 0x8e. */
export function rc(code: number | null | undefined): string {
  return code === null || code === undefined ? String(code) : `0x${code.toString(16)}`;
}
