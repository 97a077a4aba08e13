/**
 * Test helper: MQTT 5.0 properties as bytes (section 2.2.2, table 2-4) and the reason codes the
 * suites check (section 2.4). Pure. Every property occurrence is kept in wire order, so tests can
 * check order and duplicates (user properties [MQTT-3.3.2-18], several Subscription Identifiers
 * [MQTT-3.3.4-4]). Shares nothing with the broker's codec.
 */

import { concat, hex, readVarInt, str, varInt } from "./packets.ts";

/** Property identifiers [MQTT 5.0 table 2-4]. */
export const Prop = {
  PAYLOAD_FORMAT_INDICATOR: 0x01,
  MESSAGE_EXPIRY_INTERVAL: 0x02,
  CONTENT_TYPE: 0x03,
  RESPONSE_TOPIC: 0x08,
  CORRELATION_DATA: 0x09,
  SUBSCRIPTION_IDENTIFIER: 0x0b,
  SESSION_EXPIRY_INTERVAL: 0x11,
  ASSIGNED_CLIENT_IDENTIFIER: 0x12,
  SERVER_KEEP_ALIVE: 0x13,
  AUTHENTICATION_METHOD: 0x15,
  AUTHENTICATION_DATA: 0x16,
  REQUEST_PROBLEM_INFORMATION: 0x17,
  WILL_DELAY_INTERVAL: 0x18,
  REQUEST_RESPONSE_INFORMATION: 0x19,
  RESPONSE_INFORMATION: 0x1a,
  SERVER_REFERENCE: 0x1c,
  REASON_STRING: 0x1f,
  RECEIVE_MAXIMUM: 0x21,
  TOPIC_ALIAS_MAXIMUM: 0x22,
  TOPIC_ALIAS: 0x23,
  MAXIMUM_QOS: 0x24,
  RETAIN_AVAILABLE: 0x25,
  USER_PROPERTY: 0x26,
  MAXIMUM_PACKET_SIZE: 0x27,
  WILDCARD_SUBSCRIPTION_AVAILABLE: 0x28,
  SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0x29,
  SHARED_SUBSCRIPTION_AVAILABLE: 0x2a,
} as const;

/** Reason codes the suites check [MQTT 5.0 section 2.4]. */
export const Reason = {
  SUCCESS: 0x00,
  DISCONNECT_WITH_WILL: 0x04,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  NOT_AUTHORIZED: 0x87,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
} as const;

type Kind = "byte" | "u16" | "u32" | "varint" | "string" | "binary" | "pair";

const KINDS: Record<number, Kind> = {
  0x01: "byte",
  0x02: "u32",
  0x03: "string",
  0x08: "string",
  0x09: "binary",
  0x0b: "varint",
  0x11: "u32",
  0x12: "string",
  0x13: "u16",
  0x15: "string",
  0x16: "binary",
  0x17: "byte",
  0x18: "u32",
  0x19: "byte",
  0x1a: "string",
  0x1c: "string",
  0x1f: "string",
  0x21: "u16",
  0x22: "u16",
  0x23: "u16",
  0x24: "byte",
  0x25: "byte",
  0x26: "pair",
  0x27: "u32",
  0x28: "byte",
  0x29: "byte",
  0x2a: "byte",
};

/** A property value: integer, UTF-8 string, binary data, or a user property's string pair. */
export type PropValue = number | string | Uint8Array | readonly [string, string];
/** One property occurrence. */
export interface Property {
  id: number;
  value: PropValue;
}

/** Shorthand for a property occurrence. */
export function prop(id: number, value: PropValue): Property {
  return { id, value };
}
/** A User Property (0x26) occurrence. */
export function userProp(key: string, value: string): Property {
  return { id: Prop.USER_PROPERTY, value: [key, value] };
}

function kindOf(id: number): Kind {
  const k = KINDS[id];
  if (!k) throw new RangeError(`Cannot encode property 0x${id.toString(16)}: unknown identifier`);
  return k;
}

function encodeOne(p: Property): Uint8Array {
  const k = kindOf(p.id);
  const v = p.value;
  switch (k) {
    case "byte":
      return Uint8Array.from([p.id, Number(v) & 0xff]);
    case "u16":
      return Uint8Array.from([p.id, (Number(v) >> 8) & 0xff, Number(v) & 0xff]);
    case "u32": {
      const n = Number(v) >>> 0;
      return Uint8Array.from([p.id, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    }
    case "varint":
      return concat([[p.id], varInt(Number(v))]);
    case "string":
    case "binary":
      return concat([[p.id], str(typeof v === "string" || v instanceof Uint8Array ? v : "")]);
    case "pair": {
      const [key, value] = Array.isArray(v) ? v as readonly [string, string] : ["", ""];
      return concat([[p.id], str(key), str(value)]);
    }
  }
}

/** The Properties field: Variable Byte Integer length, then each property [MQTT 5.0 2.2.2]. */
export function encodeProps(props: readonly Property[]): Uint8Array {
  const body = concat(props.map(encodeOne));
  return concat([varInt(body.length), body]);
}

/** Reads a Two Byte Integer at off. */
export function u16At(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}
const decoder = new TextDecoder();

/** Decodes a Properties field at off; returns every occurrence in order and where it ends. */
export function decodeProps(b: Uint8Array, off: number): { props: Property[]; end: number } {
  const { value: len, size } = readVarInt(b, off);
  let p = off + size;
  const end = p + len;
  const props: Property[] = [];
  while (p < end) {
    const id = b[p++] ?? 0;
    const k = KINDS[id];
    if (!k) throw new SyntaxError(`Unknown property 0x${id.toString(16)} at ${p - 1}: ${hex(b)}`);
    switch (k) {
      case "byte":
        props.push({ id, value: b[p] ?? 0 });
        p += 1;
        break;
      case "u16":
        props.push({ id, value: u16At(b, p) });
        p += 2;
        break;
      case "u32":
        props.push({ id, value: ((u16At(b, p) << 16) >>> 0) + u16At(b, p + 2) });
        p += 4;
        break;
      case "varint": {
        const vi = readVarInt(b, p);
        props.push({ id, value: vi.value });
        p += vi.size;
        break;
      }
      case "string": {
        const n = u16At(b, p);
        props.push({ id, value: decoder.decode(b.subarray(p + 2, p + 2 + n)) });
        p += 2 + n;
        break;
      }
      case "binary": {
        const n = u16At(b, p);
        props.push({ id, value: b.slice(p + 2, p + 2 + n) });
        p += 2 + n;
        break;
      }
      case "pair": {
        const kn = u16At(b, p);
        const key = decoder.decode(b.subarray(p + 2, p + 2 + kn));
        const vn = u16At(b, p + 2 + kn);
        const value = decoder.decode(b.subarray(p + 4 + kn, p + 4 + kn + vn));
        props.push({ id, value: [key, value] });
        p += 4 + kn + vn;
        break;
      }
    }
  }
  return { props, end };
}

/** Values of every occurrence of property id, in order. */
export function propsOf(props: readonly Property[], id: number): PropValue[] {
  return props.filter((p) => p.id === id).map((p) => p.value);
}
/** The value of the first occurrence of property id, or undefined. */
export function propOf(props: readonly Property[], id: number): PropValue | undefined {
  return props.find((p) => p.id === id)?.value;
}
/** User properties as [key, value] pairs, in wire order. */
export function userPropsOf(props: readonly Property[]): [string, string][] {
  return propsOf(props, Prop.USER_PROPERTY).map((v) => {
    const [k, val] = v as readonly [string, string];
    return [k, val];
  });
}
