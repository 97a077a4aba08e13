/**
 * Fuzz helper: the mutation engine. Takes a valid packet model (gen_client.ts, gen_other.ts) and
 * breaks it in one to three ways, at three depths: in the model (a string's UTF-8, a property, a
 * flag, a reason code, a packet id: the frame stays well formed so the break reaches the
 * packet's decoder), in the body with the remaining length kept true, and in the framed bytes (bit
 * flips, inserted or deleted bytes, truncation, remaining lengths that lie). Returns the bytes
 * and a name listing what was done. Pure; draws only from the Rng it is given.
 */

import { CLIENT_REASONS, type GenOptions } from "./gen_client.ts";
import type { Rng } from "./prng.ts";
import {
  forbiddenValueProp,
  repeatable,
  unknownProp,
  WILL,
  wrongContextProp,
  wrongSizeProp,
} from "./props.ts";
import { encodeBody, type Field, firstByte, frame, type Model, T, utf8, varint } from "./wire.ts";

/** A mutated packet. */
export interface Mutated {
  bytes: Uint8Array;
  /** The model's name followed by every mutation applied, e.g. "PUBLISH q1 v5 +badUtf8". */
  name: string;
}

/** Byte sequences that are not valid UTF-8, or are forbidden in MQTT strings [MQTT-1.5.4]. */
const BAD_UTF8: readonly (readonly number[])[] = [
  [0x00], // U+0000 [MQTT-1.5.4-2]
  [0x80], // lone continuation byte
  [0xc3, 0x28], // bad continuation
  [0xc0, 0x80], // overlong U+0000
  [0xed, 0xa0, 0x80], // UTF-16 surrogate [MQTT-1.5.4-1]
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xff],
  [0xe2, 0x82], // truncated sequence
  [0xef, 0xbf, 0xbf], // U+FFFF, a non-character (allowed but suspicious: MAY be refused)
];

type Structural = (rng: Rng, m: Model, o: GenOptions) => boolean;

/** Replaces bytes of some UTF-8 string (field or property) with a bad sequence. */
const badUtf8: Structural = (rng, m) => {
  const bad = Uint8Array.from(rng.pick(BAD_UTF8));
  const slots: { get(): Uint8Array; set(b: Uint8Array): void }[] = [];
  for (const f of m.fields) {
    if (f.k === "str" && f.utf8) slots.push({ get: () => f.b, set: (b) => f.b = b });
    if (f.k !== "props") continue;
    for (const p of f.list) {
      const v = p.v;
      if (v.t === "string") slots.push({ get: () => v.b, set: (b) => p.v = { t: "string", b } });
      if (v.t === "pair") slots.push({ get: () => v.k, set: (b) => p.v = { ...v, k: b } });
    }
  }
  if (slots.length === 0) return false;
  const slot = rng.pick(slots);
  const old = slot.get();
  const at = rng.int(0, old.length);
  const out = new Uint8Array(old.length + bad.length);
  out.set(old.subarray(0, at));
  out.set(bad, at);
  out.set(old.subarray(at), at + bad.length);
  slot.set(out);
  return true;
};

function fieldsOf<K extends Field["k"]>(m: Model, k: K): Extract<Field, { k: K }>[] {
  return m.fields.filter((f): f is Extract<Field, { k: K }> => f.k === k);
}

/** A string's two-byte length says more or less than follows. */
const strLenLie: Structural = (rng, m) => {
  const strs = fieldsOf(m, "str");
  if (strs.length === 0) return false;
  rng.pick(strs).lenDelta = rng.pick([-2, -1, 1, 2, 100, 0x7fff]);
  return true;
};

/** The properties field of the model, made when missing (a 3.1.1 packet then grows one). */
function propsField(rng: Rng, m: Model): Extract<Field, { k: "props" }> {
  const all = fieldsOf(m, "props");
  if (all.length > 0) return rng.pick(all);
  const f: Field = { k: "props", list: [] };
  m.fields.splice(rng.int(0, m.fields.length), 0, f);
  return f;
}

function ctxOf(m: Model, f: Extract<Field, { k: "props" }>): number {
  return f.will ? WILL : m.type;
}

const propUnknown: Structural = (rng, m) => {
  const f = propsField(rng, m);
  f.list.splice(rng.int(0, f.list.length), 0, unknownProp(rng));
  return true;
};

/** A property that may appear once appears twice [MQTT 5.0 2.2.2.2]. */
const propDuplicate: Structural = (rng, m) => {
  const f = propsField(rng, m);
  const once = f.list.filter((p) => !repeatable(p.id, ctxOf(m, f)));
  const p = once.length > 0 ? rng.pick(once) : forbiddenValueProp(rng);
  f.list.push({ id: p.id, v: p.v }, { id: p.id, v: p.v });
  return true;
};

const propWrongContext: Structural = (rng, m, o) => {
  const f = propsField(rng, m);
  f.list.splice(rng.int(0, f.list.length), 0, wrongContextProp(rng, ctxOf(m, f), o.topicPrefix));
  return true;
};

const propWrongSize: Structural = (rng, m) => {
  const f = propsField(rng, m);
  f.list.splice(rng.int(0, f.list.length), 0, wrongSizeProp(rng));
  return true;
};

const propForbidden: Structural = (rng, m) => {
  propsField(rng, m).list.push(forbiddenValueProp(rng));
  return true;
};

const propsLenLie: Structural = (rng, m) => {
  propsField(rng, m).lenDelta = rng.pick([-3, -1, 1, 2, 64, 10_000]);
  return true;
};

/** Wrong fixed-header flags: any nibble but the required one; PUBLISH gets QoS 3 or DUP at 0. */
const badFlags: Structural = (rng, m) => {
  if (m.type === T.PUBLISH) {
    if (rng.chance(0.6)) m.flags |= 0x06; // QoS 3 [MQTT-3.3.1-4]
    else m.flags = (m.flags & 0x01) | 0x08; // DUP on QoS 0 [MQTT-3.3.1-2]
    return true;
  }
  const required = m.flags;
  let f = rng.int(0, 15);
  if (f === required) f = required ^ (1 << rng.int(0, 3));
  m.flags = f;
  return true;
};

/** A reason code the packet type does not define [MQTT 5.0 2.4]; added when absent. */
const reasonInvalid: Structural = (rng, m) => {
  const valid = CLIENT_REASONS[m.type];
  if (!valid) return false;
  let code = rng.pick([0x01, 0x02, 0x05, 0x7f, 0x8b, 0x8e, 0xa0, 0xff, rng.int(0, 255)]);
  while (valid.includes(code)) code = (code + 1) & 0xff;
  const f = m.fields.find((x) => x.role === "reason");
  if (f && f.k === "u8") f.n = code;
  else {m.fields.splice(m.type === T.DISCONNECT || m.type === T.AUTH ? 0 : 1, 0, {
      k: "u8",
      n: code,
    });}
  return true;
};

const packetIdZero: Structural = (_rng, m) => {
  const f = m.fields.find((x) => x.role === "packetId");
  if (!f || f.k !== "u16") return false;
  f.n = 0; // [MQTT-2.2.1-3] non-zero
  return true;
};

/** CONNECT flags that break [MQTT-3.1.2-3], [MQTT-3.1.2-11..14], [MQTT-3.1.2-22]. */
const connectFlags: Structural = (rng, m) => {
  const f = m.fields.find((x) => x.role === "connectFlags");
  if (!f || f.k !== "u8") return false;
  f.n = rng.pick([
    f.n | 0x01, // reserved bit
    f.n | 0x04 | 0x18, // will QoS 3
    (f.n & ~0x04) | 0x08, // will QoS without the will flag
    (f.n & ~0x04) | 0x20, // will retain without the will flag
    (f.n & ~0x80) | 0x40, // password without user name (3.1.1)
    f.n ^ 0x80, // user name flag that disagrees with the payload
    f.n ^ 0x04, // will flag that disagrees with the payload
  ]);
  return true;
};

/** Protocol name or level a server must refuse [MQTT-3.1.2-1], [MQTT-3.1.2-2]. */
const protocol: Structural = (rng, m) => {
  const name = m.fields.find((x) => x.role === "protocolName");
  const level = m.fields.find((x) => x.role === "level");
  if (!name || name.k !== "str" || !level || level.k !== "u8") return false;
  if (rng.chance(0.5)) name.b = utf8(rng.pick(["MQIsdp", "mqtt", "MQTTT", "", "MQ\u0000T"]));
  else level.n = rng.pick([0, 1, 2, 3, 6, 7, 255, m.version === 5 ? 4 : 5]);
  return true;
};

/** Subscription options with reserved bits, QoS 3, Retain Handling 3 [MQTT-3.8.3-5]. */
const subOptions: Structural = (rng, m) => {
  const opts = m.fields.filter((x) => x.role === "subOptions");
  if (opts.length === 0) return false;
  const f = rng.pick(opts);
  if (f.k !== "u8") return false;
  f.n = rng.pick([f.n | 0x03, f.n | 0x30, f.n | 0x40, f.n | 0x80, 0xff, f.n | 0x04]);
  return true;
};

/** SUBSCRIBE/UNSUBSCRIBE without any filter [MQTT-3.8.3-3], [MQTT-3.10.3-2]. */
const noFilters: Structural = (_rng, m) => {
  if (m.type !== T.SUBSCRIBE && m.type !== T.UNSUBSCRIBE) return false;
  m.fields = m.fields.filter((f) => f.role !== "filter" && f.role !== "subOptions");
  return true;
};

/** A wildcard in a topic name [MQTT-3.3.2-2], or an empty one without an alias. */
const badTopic: Structural = (rng, m) => {
  const f = m.fields.find((x) => x.role === "topic" || x.role === "willTopic");
  if (!f || f.k !== "str") return false;
  f.b = rng.chance(0.8) ? utf8(rng.pick(["fz/+/x", "fz/#", "#", "+", "a/b#"])) : new Uint8Array(0);
  return true;
};

const dropField: Structural = (rng, m) => {
  if (m.fields.length === 0) return false;
  m.fields.splice(rng.int(0, m.fields.length - 1), 1);
  return true;
};

const dupField: Structural = (rng, m) => {
  if (m.fields.length === 0) return false;
  const i = rng.int(0, m.fields.length - 1);
  m.fields.splice(i, 0, structuredClone(m.fields[i] as Field));
  return true;
};

const STRUCTURAL: readonly (readonly [string, Structural, number])[] = [
  ["badUtf8", badUtf8, 4],
  ["strLenLie", strLenLie, 2],
  ["propUnknown", propUnknown, 2],
  ["propDuplicate", propDuplicate, 2],
  ["propWrongContext", propWrongContext, 2],
  ["propWrongSize", propWrongSize, 1],
  ["propForbidden", propForbidden, 2],
  ["propsLenLie", propsLenLie, 1],
  ["badFlags", badFlags, 3],
  ["reasonInvalid", reasonInvalid, 3],
  ["packetIdZero", packetIdZero, 1],
  ["connectFlags", connectFlags, 2],
  ["protocol", protocol, 2],
  ["subOptions", subOptions, 2],
  ["noFilters", noFilters, 1],
  ["badTopic", badTopic, 2],
  ["dropField", dropField, 1],
  ["dupField", dupField, 1],
];

/** Edits of the body that keep the remaining length true. */
function bodyEdit(rng: Rng, body: Uint8Array): [string, Uint8Array] {
  const kind = rng.pick(["bodyFlip", "bodyInsert", "bodyDelete", "bodyTrailing"]);
  return [kind, byteEdit(rng, body, kind)];
}

/** Byte-level edits: flips, inserts, deletes, truncation, trailing junk. */
function byteEdit(rng: Rng, b: Uint8Array, kind: string): Uint8Array {
  if (kind.endsWith("Flip")) {
    const out = b.slice();
    const flips = rng.int(1, 3);
    for (let i = 0; i < flips && out.length > 0; i++) {
      const at = rng.int(0, out.length - 1);
      out[at] = (out[at] ?? 0) ^ (1 << rng.int(0, 7));
    }
    return out;
  }
  if (kind.endsWith("Delete") && b.length > 1) {
    const at = rng.int(0, b.length - 1);
    // Never everything: an empty packet would send nothing at all.
    const n = Math.min(rng.int(1, 8), b.length - at, b.length - 1);
    return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
  }
  if (kind === "truncate" && b.length > 1) return b.slice(0, rng.int(1, b.length - 1));
  const at = kind === "bodyTrailing" ? b.length : rng.int(0, b.length);
  const ins = rng.bytes(rng.int(1, 8));
  return Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
}

/** Remaining-length bytes that lie or are badly encoded [MQTT 5.0 1.5.5, 2.1.4]. */
function lengthLie(rng: Rng, n: number): [string, Uint8Array] {
  const kind = rng.pick(["lenShort", "lenLong", "len5", "lenNonMinimal", "lenHuge"]);
  switch (kind) {
    case "lenShort":
      return n > 0 ? [kind, varint(Math.max(0, n - rng.int(1, 8)))] : ["lenLong", varint(1)];
    case "lenLong":
      return [kind, varint(n + rng.pick([1, 2, 7, 64, 1000]))];
    case "len5":
      return [kind, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f)];
    case "lenNonMinimal":
      return [kind, varint(n, rng.int(1, 3))];
    default:
      return [kind, Uint8Array.of(0xff, 0xff, 0xff, 0x7f)];
  }
}

/**
 * Breaks a model in 1-3 ways (model, body, frame or bytes) and returns the bytes. The model is
 * edited in place: pass one made for this call.
 */
export function mutate(rng: Rng, m: Model, o: GenOptions): Mutated {
  const count = rng.weighted<number>([[1, 6], [2, 3], [3, 1]]);
  const names: string[] = [];
  const depth: string[] = [];
  for (let i = 0; i < count; i++) {
    depth.push(rng.weighted([["model", 5], ["body", 2], ["bytes", 3]]));
  }
  for (const d of depth) {
    if (d !== "model") continue;
    for (let tries = 0; tries < 4; tries++) {
      const [name, fn] = rng.weighted(STRUCTURAL.map(([n, f, w]) => [[n, f] as const, w] as const));
      if (fn(rng, m, o)) {
        names.push(name);
        break;
      }
    }
  }
  let body = encodeBody(m);
  if (depth.includes("body")) {
    const [name, edited] = bodyEdit(rng, body);
    names.push(name);
    body = edited;
  }
  let bytes: Uint8Array;
  if (depth.includes("bytes") && rng.chance(0.4)) {
    const [name, len] = lengthLie(rng, body.length);
    names.push(name);
    bytes = frame(firstByte(m), body, len);
  } else {
    bytes = frame(firstByte(m), body);
    if (depth.includes("bytes")) {
      const kind = rng.pick(["bitFlip", "insert", "byteDelete", "truncate"]);
      names.push(kind);
      bytes = byteEdit(rng, bytes, kind);
    }
  }
  if (names.length === 0) {
    names.push("bitFlip");
    bytes = byteEdit(rng, bytes, "bitFlip");
  }
  return { bytes, name: `${m.name} +${names.join("+")}` };
}
