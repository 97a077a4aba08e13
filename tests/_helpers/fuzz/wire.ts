/**
 * Fuzz helper: the packet model the generators build and the mutators edit, and its encoding to
 * bytes. A packet is kept as typed fields (integers, length-prefixed strings, properties, raw
 * bytes) until the last moment, so that a mutation can break one field's meaning (a string's
 * UTF-8, a property's type, a reason code) while everything around it stays well formed. Pure;
 * shares nothing with the broker's codec.
 */

/** MQTT protocol level of a fuzz connection: 4 = 3.1.1, 5 = 5.0. */
export type Version = 4 | 5;

/** A property value, in its wire type [MQTT 5.0 2.2.2.2]. */
export type PropValue =
  | { readonly t: "byte" | "u16" | "u32" | "varint"; readonly n: number }
  | { readonly t: "string" | "binary"; readonly b: Uint8Array }
  | { readonly t: "pair"; readonly k: Uint8Array; readonly v: Uint8Array }
  /** Arbitrary bytes after the identifier: unknown properties and wrong value types. */
  | { readonly t: "raw"; readonly b: Uint8Array };

/** One property occurrence. */
export interface Prop {
  id: number;
  v: PropValue;
}

/** What a field means, so that mutators can find the field they break. */
export type FieldRole =
  | "protocolName"
  | "level"
  | "connectFlags"
  | "keepalive"
  | "clientId"
  | "willTopic"
  | "willPayload"
  | "username"
  | "password"
  | "topic"
  | "packetId"
  | "reason"
  | "filter"
  | "subOptions"
  | "payload"
  | "sessionPresent";

/** One field of a variable header or payload, in wire order. */
export type Field =
  | { k: "u8"; n: number; role?: FieldRole }
  | { k: "u16"; n: number; role?: FieldRole }
  /** A UTF-8 string (utf8 = true) or binary data with a two-byte length; lenDelta lies. */
  | { k: "str"; b: Uint8Array; utf8: boolean; role?: FieldRole; lenDelta?: number }
  /** A Properties field; lenDelta makes its length lie. */
  | { k: "props"; list: Prop[]; will?: boolean; lenDelta?: number; role?: FieldRole }
  | { k: "raw"; b: Uint8Array; role?: FieldRole };

/** A packet before encoding. */
export interface Model {
  /** Packet type, 0-15 (high nibble of the first byte). */
  type: number;
  /** Fixed-header flags (low nibble). */
  flags: number;
  version: Version;
  fields: Field[];
  /** Short description for logs: type name, then every mutation applied. */
  name: string;
}

/** Packet type numbers [MQTT 5.0 table 2-1]. */
export const T = {
  RESERVED: 0,
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

const enc = new TextEncoder();

/** UTF-8 bytes of s. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** Growable byte buffer with big-endian writers. */
export class Writer {
  #buf = new Uint8Array(128);
  #n = 0;

  #room(extra: number): void {
    if (this.#n + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#n + extra));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
  }
  u8(n: number): this {
    this.#room(1);
    this.#buf[this.#n++] = n & 0xff;
    return this;
  }
  u16(n: number): this {
    return this.u8(n >> 8).u8(n);
  }
  u32(n: number): this {
    return this.u16(Math.floor((n >>> 0) / 65536)).u16(n & 0xffff);
  }
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
    return this;
  }
  varint(n: number): this {
    return this.bytes(varint(n));
  }
  get length(): number {
    return this.#n;
  }
  /** A copy of what was written. */
  out(): Uint8Array {
    return this.#buf.slice(0, this.#n);
  }
}

/**
 * Variable Byte Integer [MQTT 5.0 1.5.5]. pad > 0 adds that many redundant continuation bytes
 * (a non-minimal encoding [MQTT-1.5.5-1]); values above 268,435,455 are written in 5 or more
 * bytes, which no receiver may accept.
 */
export function varint(n: number, pad = 0): Uint8Array {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  for (let i = 0; i < pad; i++) {
    out[out.length - 1] = (out[out.length - 1] ?? 0) | 0x80;
    out.push(0);
  }
  return Uint8Array.from(out);
}

function propValue(w: Writer, v: PropValue): void {
  switch (v.t) {
    case "byte":
      w.u8(v.n);
      break;
    case "u16":
      w.u16(v.n);
      break;
    case "u32":
      w.u32(v.n);
      break;
    case "varint":
      w.varint(v.n);
      break;
    case "string":
    case "binary":
      w.u16(v.b.length).bytes(v.b);
      break;
    case "pair":
      w.u16(v.k.length).bytes(v.k).u16(v.v.length).bytes(v.v);
      break;
    case "raw":
      w.bytes(v.b);
  }
}

/** The bytes of a property list, without its length. */
export function encodePropList(list: readonly Prop[]): Uint8Array {
  const w = new Writer();
  for (const p of list) {
    w.varint(p.id);
    propValue(w, p.v);
  }
  return w.out();
}

/** Writes one field. */
function field(w: Writer, f: Field): void {
  switch (f.k) {
    case "u8":
      w.u8(f.n);
      break;
    case "u16":
      w.u16(f.n);
      break;
    case "str":
      w.u16(Math.max(0, Math.min(0xffff, f.b.length + (f.lenDelta ?? 0)))).bytes(f.b);
      break;
    case "props": {
      const body = encodePropList(f.list);
      w.varint(Math.max(0, body.length + (f.lenDelta ?? 0))).bytes(body);
      break;
    }
    case "raw":
      w.bytes(f.b);
  }
}

/** The variable header and payload of a model (what the remaining length counts). */
export function encodeBody(m: Model): Uint8Array {
  const w = new Writer();
  for (const f of m.fields) field(w, f);
  return w.out();
}

/** The first byte of a model: type and flags. */
export function firstByte(m: Model): number {
  return ((m.type & 0x0f) << 4) | (m.flags & 0x0f);
}

/** A whole packet: first byte, the given length bytes (default: minimal), body. */
export function frame(first: number, body: Uint8Array, lengthBytes?: Uint8Array): Uint8Array {
  const len = lengthBytes ?? varint(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = first;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

/** A model's bytes, correctly framed. */
export function encode(m: Model): Uint8Array {
  return frame(firstByte(m), encodeBody(m));
}

/** Joins byte arrays. */
export function join(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Hex dump, space separated. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}
