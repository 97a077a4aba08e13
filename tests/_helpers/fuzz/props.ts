/**
 * Fuzz helper: MQTT 5.0 properties (section 2.2.2, table 2-4): which packet each one belongs to,
 * its wire type, values a client would send, and the ways to get them wrong (unknown identifiers,
 * a property of another packet type, a value of the wrong size, zero where zero is forbidden).
 * Pure; draws only from the Rng it is given.
 */

import type { Rng } from "./prng.ts";
import { type Prop, type PropValue, T, utf8 } from "./wire.ts";

/** Pseudo packet type for the Will Properties of a CONNECT payload. */
export const WILL = 16;

type Kind = "byte" | "u16" | "u32" | "varint" | "string" | "binary" | "pair";

/** [kind, packet types (and WILL) it is valid in] per identifier [MQTT 5.0 table 2-4]. */
const TABLE: ReadonlyMap<number, readonly [Kind, readonly number[]]> = new Map([
  [0x01, ["byte", [T.PUBLISH, WILL]]],
  [0x02, ["u32", [T.PUBLISH, WILL]]],
  [0x03, ["string", [T.PUBLISH, WILL]]],
  [0x08, ["string", [T.PUBLISH, WILL]]],
  [0x09, ["binary", [T.PUBLISH, WILL]]],
  [0x0b, ["varint", [T.PUBLISH, T.SUBSCRIBE]]],
  [0x11, ["u32", [T.CONNECT, T.CONNACK, T.DISCONNECT]]],
  [0x12, ["string", [T.CONNACK]]],
  [0x13, ["u16", [T.CONNACK]]],
  [0x15, ["string", [T.CONNECT, T.CONNACK, T.AUTH]]],
  [0x16, ["binary", [T.CONNECT, T.CONNACK, T.AUTH]]],
  [0x17, ["byte", [T.CONNECT]]],
  [0x18, ["u32", [WILL]]],
  [0x19, ["byte", [T.CONNECT]]],
  [0x1a, ["string", [T.CONNACK]]],
  [0x1c, ["string", [T.CONNACK, T.DISCONNECT]]],
  [0x1f, ["string", [
    T.CONNACK,
    T.PUBACK,
    T.PUBREC,
    T.PUBREL,
    T.PUBCOMP,
    T.SUBACK,
    T.UNSUBACK,
    T.DISCONNECT,
    T.AUTH,
  ]]],
  [0x21, ["u16", [T.CONNECT, T.CONNACK]]],
  [0x22, ["u16", [T.CONNECT, T.CONNACK]]],
  [0x23, ["u16", [T.PUBLISH]]],
  [0x24, ["byte", [T.CONNACK]]],
  [0x25, ["byte", [T.CONNACK]]],
  [0x26, ["pair", []]], // every packet that has properties
  [0x27, ["u32", [T.CONNECT, T.CONNACK]]],
  [0x28, ["byte", [T.CONNACK]]],
  [0x29, ["byte", [T.CONNACK]]],
  [0x2a, ["byte", [T.CONNACK]]],
]);

/** Every defined property identifier. */
export const KNOWN_IDS: readonly number[] = [...TABLE.keys()];

/** Identifiers that may appear more than once: User Property (and Subscription Identifier s→c). */
export const REPEATABLE: readonly number[] = [0x26];

/** Identifiers a property may not use (unassigned in table 2-4), plus multi-byte ones. */
const UNKNOWN_IDS: readonly number[] = [
  0x00,
  0x04,
  0x05,
  0x06,
  0x07,
  0x0a,
  0x0c,
  0x10,
  0x14,
  0x1b,
  0x1d,
  0x1e,
  0x20,
  0x2b,
  0x3f,
  0x7f,
  0x80,
  0xff,
  0x4000,
];

const WORDS = ["a", "b", "temp", "x", "é", "中文", "😀", "k-1", "v 2", ""];

/** A UTF-8 string of a few words (valid, may be empty, may hold multi-byte characters). */
export function text(rng: Rng, maxWords = 3): Uint8Array {
  const n = rng.int(0, maxWords);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(rng.pick(WORDS));
  return utf8(parts.join("/"));
}

/** A value a well-behaved client would send for property id (sizes kept small). */
export function validValue(rng: Rng, id: number, topicPrefix: string): PropValue {
  switch (id) {
    case 0x01:
    case 0x17:
    case 0x19:
    case 0x24:
    case 0x25:
    case 0x28:
    case 0x29:
    case 0x2a:
      return { t: "byte", n: rng.int(0, 1) };
    case 0x02:
      return { t: "u32", n: rng.int(1, 3600) };
    case 0x0b:
      return { t: "varint", n: rng.chance(0.5) ? rng.int(1, 127) : rng.int(1, 268_435_455) };
    case 0x11:
      // Short, so that sessions the flood leaves behind expire within the settle window.
      return { t: "u32", n: rng.int(0, 30) };
    case 0x13:
      return { t: "u16", n: rng.int(0, 600) };
    case 0x18:
      return { t: "u32", n: rng.int(0, 3) };
    case 0x21:
      return { t: "u16", n: rng.chance(0.5) ? rng.int(1, 100) : rng.int(1, 65535) };
    case 0x22:
      return { t: "u16", n: rng.int(0, 20) };
    case 0x23:
      return { t: "u16", n: rng.int(1, 10) };
    case 0x27:
      return { t: "u32", n: rng.int(256, 1 << 20) };
    case 0x08:
      return { t: "string", b: utf8(`${topicPrefix}/resp/${rng.int(0, 9)}`) };
    case 0x15:
      return { t: "string", b: utf8(rng.pick(["SCRAM-SHA-1", "fuzz", "GS2-KRB5"])) };
    case 0x09:
    case 0x16:
      return { t: "binary", b: rng.bytes(rng.int(0, 16)) };
    case 0x26:
      return { t: "pair", k: text(rng, 2), v: text(rng, 2) };
    default:
      return { t: "string", b: text(rng) };
  }
}

/**
 * Valid properties for a packet type (or WILL): each of `ids` with probability p, then 0-3 User
 * Properties. Ids must be valid for the context; the generators pass the ones a client sends.
 */
export function someProps(rng: Rng, ids: readonly number[], p: number, prefix: string): Prop[] {
  const list: Prop[] = [];
  for (const id of ids) if (rng.chance(p)) list.push({ id, v: validValue(rng, id, prefix) });
  const users = rng.chance(0.3) ? rng.int(1, 3) : 0;
  for (let i = 0; i < users; i++) list.push({ id: 0x26, v: validValue(rng, 0x26, prefix) });
  return shuffle(rng, list);
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

/** An identifier no packet may use, with a few random value bytes. */
export function unknownProp(rng: Rng): Prop {
  return { id: rng.pick(UNKNOWN_IDS), v: { t: "raw", b: rng.bytes(rng.int(0, 6)) } };
}

/** A defined property that is not valid in packet type ctx (e.g. Will Delay in PUBLISH). */
export function wrongContextProp(rng: Rng, ctx: number, prefix: string): Prop {
  const others = KNOWN_IDS.filter((id) => {
    const row = TABLE.get(id);
    return row !== undefined && id !== 0x26 && !row[1].includes(ctx);
  });
  const id = rng.pick(others);
  return { id, v: validValue(rng, id, prefix) };
}

/** A defined property whose value has the wrong size for its type (e.g. a u32 in two bytes). */
export function wrongSizeProp(rng: Rng): Prop {
  const id = rng.pick(KNOWN_IDS);
  const kind = TABLE.get(id)?.[0] ?? "byte";
  const right: Record<Kind, number> = {
    byte: 1,
    u16: 2,
    u32: 4,
    varint: 1,
    string: 2,
    binary: 2,
    pair: 4,
  };
  let n = rng.int(0, 6);
  if (n === right[kind]) n = right[kind] + 1;
  return { id, v: { t: "raw", b: rng.bytes(n) } };
}

/** A property with a value the specification forbids (zero, or out of range). */
export function forbiddenValueProp(rng: Rng): Prop {
  return rng.pick<Prop>([
    { id: 0x21, v: { t: "u16", n: 0 } }, // Receive Maximum 0 [MQTT-3.1.2.11.3]
    { id: 0x27, v: { t: "u32", n: 0 } }, // Maximum Packet Size 0
    { id: 0x23, v: { t: "u16", n: 0 } }, // Topic Alias 0 [MQTT-3.3.2-8]
    { id: 0x23, v: { t: "u16", n: 65535 } }, // above any Topic Alias Maximum
    { id: 0x0b, v: { t: "varint", n: 0 } }, // Subscription Identifier 0 [MQTT-3.8.2.1.2]
    { id: 0x01, v: { t: "byte", n: rng.int(2, 255) } }, // Payload Format Indicator
    { id: 0x17, v: { t: "byte", n: rng.int(2, 255) } }, // Request Problem Information
    { id: 0x19, v: { t: "byte", n: rng.int(2, 255) } }, // Request Response Information
    { id: 0x0b, v: { t: "raw", b: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x7f]) } },
  ]);
}

/** Whether a property may appear more than once in packet type ctx. */
export function repeatable(id: number, ctx: number): boolean {
  return id === 0x26 || (id === 0x0b && ctx === T.PUBLISH);
}
