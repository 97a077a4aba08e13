/**
 * Conformance probe (bench/conformance_diff.ts): raw MQTT 3.1.1 / 5.0 packets with any flags and
 * properties, including invalid ones, and a summary of what a broker sent back, as one line per
 * packet so that two brokers' answers compare as strings. Pure: no I/O. Built from the
 * specifications, sharing nothing with Culex's codec.
 */

import { concat, readVarInt, str, varInt } from "../tests/_helpers/packets.ts";

export { concat, str, varInt };

/** One step: bytes to send on a connection (default "a"), a pause, or dropping the socket. */
export type Step =
  | { c?: string; send: Uint8Array; v?: number }
  | { c?: string; wait: number }
  | { c?: string; drop: true };

/** Context of one run of a case: unique client ids per broker. */
export interface Ctx {
  id(s?: string): string;
}

/** A probe case. */
export interface Case {
  name: string;
  v: 4 | 5;
  spec?: string;
  steps(ctx: Ctx): Step[];
}

/** A CONNECT step with a fresh id. */
export function hello(ctx: Ctx, v: 4 | 5, more: Partial<Connect> = {}, c = "a"): Step {
  return { c, v, send: connect({ v, id: ctx.id(), ...more }) };
}

/** Invalid UTF-8 (C3 28 after "a") and a U+0000 (between "a" and "b"). */
export const BAD_UTF8: Uint8Array = Uint8Array.from([0x61, 0xc3, 0x28]);
export const NUL: Uint8Array = Uint8Array.from([0x61, 0x00, 0x62]);

/** The same case for 3.1.1 and 5.0. */
export function both(
  name: string,
  spec: string,
  steps: (ctx: Ctx, v: 4 | 5) => Step[],
): Case[] {
  return [4, 5].map((v) => ({
    name,
    v: v as 4 | 5,
    spec,
    steps: (ctx: Ctx) => steps(ctx, v as 4 | 5),
  }));
}

export function v5(name: string, spec: string, steps: (ctx: Ctx) => Step[]): Case {
  return { name, v: 5, spec, steps };
}

/** One property: identifier and its encoded value. */
export type Prop = readonly [number, Uint8Array];

/** Property builders by value type [MQTT 5 2.2.2.2]. */
export const p = {
  u8: (id: number, v: number): Prop => [id, Uint8Array.from([v])],
  u16: (id: number, v: number): Prop => [id, Uint8Array.from([v >> 8, v & 0xff])],
  u32: (id: number, v: number): Prop => [
    id,
    Uint8Array.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]),
  ],
  vbi: (id: number, v: number): Prop => [id, varInt(v)],
  str: (id: number, v: string | Uint8Array): Prop => [id, str(v)],
  pair: (id: number, k: string, v: string): Prop => [id, concat([str(k), str(v)])],
};

/** Encodes a property list with its length prefix. */
export function props(list: readonly Prop[]): Uint8Array {
  const body = concat(list.map(([id, v]) => concat([[id], v])));
  return concat([varInt(body.length), body]);
}

/** A packet from its first byte and body parts. */
export function pkt(first: number, ...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const body = concat(parts);
  return concat([[first], varInt(body.length), body]);
}

/** Two-byte integer. */
export function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

/** CONNECT fields; every one may be set to an invalid value. */
export interface Connect {
  v: 3 | 4 | 5;
  id: string | Uint8Array;
  clean?: boolean;
  keepalive?: number;
  /** Overrides the computed connect flags byte. */
  flags?: number;
  name?: string;
  level?: number;
  /** First byte; default 0x10. */
  first?: number;
  props?: readonly Prop[];
  will?: {
    topic: string | Uint8Array;
    payload: string | Uint8Array;
    qos?: number;
    retain?: boolean;
    props?: readonly Prop[];
  };
  user?: string | Uint8Array;
  pass?: string;
}

/** CONNECT [MQTT 3.1.1 3.1, MQTT 5 3.1]. */
export function connect(c: Connect): Uint8Array {
  const w = c.will;
  const flags = c.flags ??
    ((c.clean === false ? 0 : 0x02) | (c.user !== undefined ? 0x80 : 0) |
      (c.pass !== undefined ? 0x40 : 0) |
      (w ? 0x04 | ((w.qos ?? 0) << 3) | (w.retain ? 0x20 : 0) : 0));
  const payload: (Uint8Array | readonly number[])[] = [str(c.id)];
  if (w) {
    if (c.v === 5) payload.push(props(w.props ?? []));
    payload.push(str(w.topic), str(w.payload));
  }
  if (c.user !== undefined) payload.push(str(c.user));
  if (c.pass !== undefined) payload.push(str(c.pass));
  return pkt(
    c.first ?? 0x10,
    str(c.name ?? (c.v === 3 ? "MQIsdp" : "MQTT")),
    [c.level ?? c.v, flags],
    u16(c.keepalive ?? 60),
    c.v === 5 ? props(c.props ?? []) : [],
    ...payload,
  );
}

/** PUBLISH fields. */
export interface Publish {
  v: 4 | 5;
  topic: string | Uint8Array;
  payload?: string | Uint8Array;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  id?: number;
  props?: readonly Prop[];
}

/** PUBLISH [MQTT 3.1.1 3.3, MQTT 5 3.3]. */
export function publish(f: Publish): Uint8Array {
  const qos = f.qos ?? 0;
  const first = 0x30 | (f.dup ? 8 : 0) | ((qos & 3) << 1) | (f.retain ? 1 : 0);
  const payload = typeof f.payload === "string"
    ? new TextEncoder().encode(f.payload)
    : f.payload ?? new Uint8Array();
  return pkt(
    first,
    str(f.topic),
    qos > 0 ? u16(f.id ?? 1) : [],
    f.v === 5 ? props(f.props ?? []) : [],
    payload,
  );
}

/** SUBSCRIBE with raw options bytes; first byte 0x82 unless given. */
export function subscribe(
  v: 4 | 5,
  id: number,
  filters: readonly (readonly [string | Uint8Array, number])[],
  o: { props?: readonly Prop[]; first?: number } = {},
): Uint8Array {
  return pkt(
    o.first ?? 0x82,
    u16(id),
    v === 5 ? props(o.props ?? []) : [],
    ...filters.map(([t, opt]) => concat([str(t), [opt]])),
  );
}

/** UNSUBSCRIBE; first byte 0xA2 unless given. */
export function unsubscribe(
  v: 4 | 5,
  id: number,
  filters: readonly (string | Uint8Array)[],
  first = 0xa2,
): Uint8Array {
  return pkt(first, u16(id), v === 5 ? props([]) : [], ...filters.map((t) => str(t)));
}

/** An acknowledgement (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70) with optional reason. */
export function ack(first: number, id: number, reason?: number): Uint8Array {
  return pkt(first, u16(id), reason === undefined ? [] : [reason]);
}

/** MQTT 5 DISCONNECT with a reason and properties. */
export function disconnect5(reason: number, list: readonly Prop[] = []): Uint8Array {
  return pkt(0xe0, [reason], props(list));
}

const PROP_NAMES: Record<number, string> = {
  0x01: "PayloadFormat",
  0x02: "MessageExpiry",
  0x03: "ContentType",
  0x08: "ResponseTopic",
  0x09: "CorrelationData",
  0x0b: "SubscriptionId",
  0x11: "SessionExpiry",
  0x12: "AssignedClientId",
  0x13: "ServerKeepAlive",
  0x15: "AuthMethod",
  0x16: "AuthData",
  0x1a: "ResponseInfo",
  0x1c: "ServerReference",
  0x1f: "ReasonString",
  0x21: "ReceiveMaximum",
  0x22: "TopicAliasMaximum",
  0x23: "TopicAlias",
  0x24: "MaximumQoS",
  0x25: "RetainAvailable",
  0x26: "UserProperty",
  0x27: "MaximumPacketSize",
  0x28: "WildcardAvailable",
  0x29: "SubIdAvailable",
  0x2a: "SharedAvailable",
};

/** Values that differ between runs or are free text: shown as present only. */
const OPAQUE = new Set([0x12, 0x1a, 0x1f, 0x26]);

function rd16(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
}

/** Properties as "Name=value" words, sorted; opaque ones as "Name=*". */
export function readProps(b: Uint8Array, off: number): { words: string[]; end: number } {
  const { value: len, size } = readVarInt(b, off);
  let i = off + size;
  const end = i + len;
  const words: string[] = [];
  while (i < end) {
    const id = b[i++] ?? 0;
    let val: string;
    let n: number;
    if ([0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a].includes(id)) {
      n = 1;
      val = String(b[i]);
    } else if ([0x13, 0x21, 0x22, 0x23].includes(id)) {
      n = 2;
      val = String(rd16(b, i));
    } else if ([0x02, 0x11, 0x18, 0x27].includes(id)) {
      n = 4;
      val = String(((b[i] ?? 0) * 2 ** 24) + ((b[i + 1] ?? 0) << 16) + rd16(b, i + 2));
    } else if (id === 0x0b) {
      const r = readVarInt(b, i);
      n = r.size;
      val = String(r.value);
    } else if (id === 0x26) {
      const k = rd16(b, i);
      n = 4 + k + rd16(b, i + 2 + k);
      val = "";
    } else {
      n = 2 + rd16(b, i);
      val = new TextDecoder().decode(b.subarray(i + 2, i + n));
    }
    words.push(`${PROP_NAMES[id] ?? `0x${id.toString(16)}`}=${OPAQUE.has(id) ? "*" : val}`);
    i += n;
  }
  return { words: words.sort(), end };
}

function hx(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

function withProps(head: string, words: string[]): string {
  return words.length ? `${head} {${words.join(" ")}}` : head;
}

/** One line describing a packet the broker sent (protocol version v of the connection). */
export function describe(first: number, body: Uint8Array, v: number): string {
  const type = first >> 4;
  const v5 = v === 5;
  const id = rd16(body, 0);
  switch (type) {
    case 2: {
      const head = `CONNACK sp=${(body[0] ?? 0) & 1} rc=${hx(body[1] ?? 0)}`;
      return body.length > 2 ? withProps(head, readProps(body, 2).words) : head;
    }
    case 3: {
      const qos = (first >> 1) & 3;
      const tl = rd16(body, 0);
      const topic = new TextDecoder().decode(body.subarray(2, 2 + tl));
      let o = 2 + tl + (qos ? 2 : 0);
      let words: string[] = [];
      if (v5) ({ words, end: o } = readProps(body, o));
      const payload = new TextDecoder().decode(body.subarray(o));
      const head = `PUBLISH q${qos} r${first & 1} d${(first >> 3) & 1} ${topic} "${payload}"`;
      return withProps(head, words);
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      const name = ["PUBACK", "PUBREC", "PUBREL", "PUBCOMP"][type - 4];
      // MQTT 5: a two-byte acknowledgement means reason 0x00 (3.4.2.1), shown as such.
      const rc = body.length > 2 ? ` rc=${hx(body[2] ?? 0)}` : v5 ? " rc=0x00" : "";
      const words = body.length > 3 ? readProps(body, 3).words : [];
      return withProps(`${name}/${hx(first)} id=${id}${rc}`, words);
    }
    case 9:
    case 11: {
      let o = 2;
      let words: string[] = [];
      if (v5) ({ words, end: o } = readProps(body, 2));
      const codes = Array.from(body.subarray(o), hx).join(",");
      return withProps(`${type === 9 ? "SUBACK" : "UNSUBACK"} id=${id} [${codes}]`, words);
    }
    case 13:
      return "PINGRESP";
    case 14: {
      const rc = body.length > 0 ? hx(body[0] ?? 0) : "0x00";
      return withProps(`DISCONNECT rc=${rc}`, body.length > 1 ? readProps(body, 1).words : []);
    }
    case 15:
      return withProps(
        `AUTH rc=${hx(body[0] ?? 0)}`,
        body.length > 1 ? readProps(body, 1).words : [],
      );
    default:
      return `TYPE${type}/${hx(first)} len=${body.length}`;
  }
}
