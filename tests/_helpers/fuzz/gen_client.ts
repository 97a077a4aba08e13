/**
 * Fuzz helper: generators of valid packets of every type a client may send (CONNECT, PUBLISH,
 * PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT, AUTH), for MQTT
 * 3.1.1 and 5.0, as models (wire.ts) the mutators can edit. Built from the specifications'
 * sections 3.1-3.15, not from any codec. Every topic and filter stays under the run's topic
 * prefix and every client id comes from a bounded pool, so that the flood never touches the
 * healthy clients' topics or ids and leaves a bounded number of sessions behind. Pure.
 */

import type { Rng } from "./prng.ts";
import { someProps, text, validValue, WILL } from "./props.ts";
import {
  type Field,
  type FieldRole,
  type Model,
  type Prop,
  T,
  utf8,
  type Version,
} from "./wire.ts";

/** Where generated packets may point. */
export interface GenOptions {
  /** Prefix of every topic name and filter, e.g. "fz/ab12" (no wildcard characters). */
  topicPrefix: string;
  /** Prefix of fuzz client ids, e.g. "zz" (must not be a prefix of a healthy client's id). */
  idPrefix: string;
  /** Distinct fuzz client ids: bounds the sessions and takeovers the flood can cause. */
  idPool: number;
}

/**
 * The generator options of the test and the bench. Fixed, not per run: a plan's bytes depend on
 * them, and a seed must replay the same bytes anywhere. Each run has a broker of its own, and the
 * healthy clients' topics and ids never start with these prefixes.
 */
export const DEFAULT_GEN: GenOptions = { topicPrefix: "fz", idPrefix: "zq", idPool: 64 };

/** Reason codes a client may send, per packet type [MQTT 5.0 2.4, 3.4.2.1, 3.14.2.1, 3.15.2.1]. */
export const CLIENT_REASONS: Readonly<Record<number, readonly number[]>> = {
  [T.PUBACK]: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  [T.PUBREC]: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  [T.PUBREL]: [0x00, 0x92],
  [T.PUBCOMP]: [0x00, 0x92],
  [T.DISCONNECT]: [
    0x00,
    0x04,
    0x80,
    0x81,
    0x82,
    0x83,
    0x87,
    0x90,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
  ],
  [T.AUTH]: [0x00, 0x18, 0x19],
};

function str(b: Uint8Array, role: FieldRole): Field {
  return { k: "str", b, utf8: true, role };
}
function bin(b: Uint8Array, role: FieldRole): Field {
  return { k: "str", b, utf8: false, role };
}

/** A topic name under the prefix (no wildcards), from a small set so retained topics stay few. */
export function topicName(rng: Rng, o: GenOptions): Uint8Array {
  const tail = rng.chance(0.1) ? `/${rng.pick(["é", "中", "😀", "a b"])}` : "";
  return utf8(`${o.topicPrefix}/t/${rng.int(0, 15)}${tail}`);
}

/** A topic filter under the prefix: exact, `+`, `#`, or a shared subscription. */
export function topicFilter(rng: Rng, o: GenOptions): Uint8Array {
  const n = rng.int(0, 15);
  return utf8(rng.pick([
    `${o.topicPrefix}/t/${n}`,
    `${o.topicPrefix}/t/+`,
    `${o.topicPrefix}/+/${n}`,
    `${o.topicPrefix}/#`,
    `${o.topicPrefix}/t/${n}/#`,
    `$share/g${n % 3}/${o.topicPrefix}/t/#`,
    `$queue/${o.topicPrefix}/t/${n}`,
  ]));
}

/** A fuzz client id from the pool (sometimes empty: the server then assigns one or refuses). */
export function clientId(rng: Rng, o: GenOptions): Uint8Array {
  if (rng.chance(0.05)) return new Uint8Array(0);
  return utf8(`${o.idPrefix}${rng.int(0, Math.max(0, o.idPool - 1))}`);
}

/** A packet identifier: non-zero, small so that acks sometimes name a packet in flight. */
function packetId(rng: Rng): Field {
  return { k: "u16", n: rng.chance(0.9) ? rng.int(1, 20) : rng.int(1, 65535), role: "packetId" };
}

function payload(rng: Rng): Uint8Array {
  if (rng.chance(0.05)) return rng.bytes(rng.int(100, 2000));
  return rng.chance(0.5) ? text(rng, 4) : rng.bytes(rng.int(0, 64));
}

/** CONNECT [MQTT 5.0 3.1, 3.1.1 3.1], with or without will, username, password, properties. */
export function genConnect(rng: Rng, v: Version, o: GenOptions): Model {
  const will = rng.chance(0.3);
  const user = rng.chance(0.3);
  // [MQTT-3.1.2-22] 3.1.1: no password without a user name (5.0 allows it).
  const pass = v === 5 ? rng.chance(0.3) : user && rng.chance(0.6);
  const willQos = will ? rng.int(0, 2) : 0;
  let flags = rng.chance(0.9) ? 0x02 : 0; // Clean Session / Clean Start
  if (will) flags |= 0x04 | (willQos << 3) | (rng.chance(0.2) ? 0x20 : 0);
  if (user) flags |= 0x80;
  if (pass) flags |= 0x40;
  const fields: Field[] = [
    str(utf8("MQTT"), "protocolName"),
    { k: "u8", n: v, role: "level" },
    { k: "u8", n: flags, role: "connectFlags" },
    { k: "u16", n: rng.chance(0.7) ? rng.int(10, 120) : 0, role: "keepalive" },
  ];
  if (v === 5) {
    const ids = [0x11, 0x21, 0x27, 0x22, 0x19, 0x17];
    const list = someProps(rng, ids, 0.3, o.topicPrefix);
    if (rng.chance(0.03)) {
      // Enhanced authentication: the broker answers 0x8C unless it knows the method.
      list.push({ id: 0x15, v: validValue(rng, 0x15, o.topicPrefix) });
      if (rng.chance(0.5)) list.push({ id: 0x16, v: validValue(rng, 0x16, o.topicPrefix) });
    }
    fields.push({ k: "props", list });
  }
  fields.push(str(clientId(rng, o), "clientId"));
  if (will) {
    if (v === 5) {
      const list = someProps(rng, [0x18, 0x01, 0x02, 0x03, 0x08, 0x09], 0.3, o.topicPrefix);
      fields.push({ k: "props", list, will: true });
    }
    fields.push(str(utf8(`${o.topicPrefix}/will/${rng.int(0, 7)}`), "willTopic"));
    fields.push(bin(payload(rng), "willPayload"));
  }
  if (user) fields.push(str(text(rng, 2), "username"));
  if (pass) fields.push(bin(rng.bytes(rng.int(0, 12)), "password"));
  return { type: T.CONNECT, flags: 0, version: v, fields, name: `CONNECT v${v}` };
}

/** PUBLISH [MQTT 5.0 3.3] at QoS 0, 1 or 2, with properties (and a topic alias) on 5.0. */
export function genPublish(rng: Rng, v: Version, o: GenOptions): Model {
  const qos = rng.weighted<number>([[0, 4], [1, 4], [2, 2]]);
  const dup = qos > 0 && rng.chance(0.1); // [MQTT-3.3.1-2] DUP is 0 at QoS 0
  const retain = rng.chance(0.05);
  let topic = topicName(rng, o);
  const fields: Field[] = [];
  let list: Prop[] = [];
  if (v === 5) {
    list = someProps(rng, [0x01, 0x02, 0x03, 0x08, 0x09], 0.2, o.topicPrefix);
    if (rng.chance(0.2)) {
      list.push({ id: 0x23, v: validValue(rng, 0x23, o.topicPrefix) });
      // An empty topic uses the alias set earlier on this connection [MQTT-3.3.2-12].
      if (rng.chance(0.4)) topic = new Uint8Array(0);
    }
  }
  fields.push(str(topic, "topic"));
  if (qos > 0) fields.push(packetId(rng));
  if (v === 5) fields.push({ k: "props", list });
  fields.push({ k: "raw", b: payload(rng), role: "payload" });
  const flags = (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  return { type: T.PUBLISH, flags, version: v, fields, name: `PUBLISH q${qos} v${v}` };
}

const ACK_NAMES: Record<number, string> = {
  [T.PUBACK]: "PUBACK",
  [T.PUBREC]: "PUBREC",
  [T.PUBREL]: "PUBREL",
  [T.PUBCOMP]: "PUBCOMP",
};

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP [MQTT 5.0 3.4-3.7]: the two-byte form, or (5.0) with a
 * reason code, or with a reason code and properties.
 */
export function genAck(rng: Rng, v: Version, type: number): Model {
  const fields: Field[] = [packetId(rng)];
  const form = v === 5 ? rng.int(0, 2) : 0;
  if (form >= 1) {
    fields.push({ k: "u8", n: rng.pick(CLIENT_REASONS[type] ?? [0]), role: "reason" });
  }
  if (form === 2) fields.push({ k: "props", list: someProps(rng, [0x1f], 0.5, "") });
  const flags = type === T.PUBREL ? 2 : 0; // [MQTT-3.6.1-1]
  return { type, flags, version: v, fields, name: `${ACK_NAMES[type] ?? type} v${v}` };
}

/** SUBSCRIBE [MQTT 5.0 3.8] with 1-4 filters and their options (5.0: no local, RAP, RH). */
export function genSubscribe(rng: Rng, v: Version, o: GenOptions): Model {
  const fields: Field[] = [packetId(rng)];
  if (v === 5) fields.push({ k: "props", list: someProps(rng, [0x0b], 0.3, o.topicPrefix) });
  const n = rng.count(1, 2, 4);
  for (let i = 0; i < n; i++) {
    const filter = topicFilter(rng, o);
    let opts = rng.int(0, 2);
    if (v === 5) {
      const shared = filter[0] === 0x24 && filter[1] === 0x73; // "$s"
      // [MQTT-3.8.3-4] No Local is a protocol error on a shared subscription.
      if (!shared && rng.chance(0.3)) opts |= 0x04;
      if (rng.chance(0.3)) opts |= 0x08;
      opts |= rng.int(0, 2) << 4;
    }
    fields.push(str(filter, "filter"), { k: "u8", n: opts, role: "subOptions" });
  }
  return { type: T.SUBSCRIBE, flags: 2, version: v, fields, name: `SUBSCRIBE v${v}` };
}

/** UNSUBSCRIBE [MQTT 5.0 3.10] with 1-4 filters. */
export function genUnsubscribe(rng: Rng, v: Version, o: GenOptions): Model {
  const fields: Field[] = [packetId(rng)];
  if (v === 5) fields.push({ k: "props", list: someProps(rng, [], 0, o.topicPrefix) });
  const n = rng.count(1, 2, 4);
  for (let i = 0; i < n; i++) fields.push(str(topicFilter(rng, o), "filter"));
  return { type: T.UNSUBSCRIBE, flags: 2, version: v, fields, name: `UNSUBSCRIBE v${v}` };
}

/** PINGREQ [MQTT 5.0 3.12]. */
export function genPingreq(v: Version): Model {
  return { type: T.PINGREQ, flags: 0, version: v, fields: [], name: `PINGREQ v${v}` };
}

/**
 * DISCONNECT [MQTT 5.0 3.14]: empty on 3.1.1; on 5.0 empty, or a client reason code, or a reason
 * code with properties (Reason String, User Property, sometimes Session Expiry Interval).
 */
export function genDisconnect(rng: Rng, v: Version): Model {
  const fields: Field[] = [];
  const form = v === 5 ? rng.int(0, 2) : 0;
  if (form >= 1) {
    fields.push({ k: "u8", n: rng.pick(CLIENT_REASONS[T.DISCONNECT] ?? [0]), role: "reason" });
  }
  if (form === 2) {
    const ids = rng.chance(0.1) ? [0x1f, 0x11] : [0x1f];
    fields.push({ k: "props", list: someProps(rng, ids, 0.5, "") });
  }
  return { type: T.DISCONNECT, flags: 0, version: v, fields, name: `DISCONNECT v${v}` };
}

/** The two-byte DISCONNECT a well-behaved client ends with (reason 0x00 omitted). */
export function cleanDisconnect(v: Version): Model {
  return { type: T.DISCONNECT, flags: 0, version: v, fields: [], name: `DISCONNECT v${v}` };
}

/**
 * AUTH [MQTT 5.0 3.15]: empty (success), or a reason code with Authentication Method and Data.
 * On 3.1.1 packet type 15 is reserved: gen_other.ts makes that one.
 */
export function genAuth(rng: Rng): Model {
  const fields: Field[] = [];
  if (rng.chance(0.8)) {
    fields.push({ k: "u8", n: rng.pick(CLIENT_REASONS[T.AUTH] ?? [0]), role: "reason" });
    const list: Prop[] = [{ id: 0x15, v: validValue(rng, 0x15, "") }];
    if (rng.chance(0.6)) list.push({ id: 0x16, v: validValue(rng, 0x16, "") });
    list.push(...someProps(rng, [0x1f], 0.3, ""));
    fields.push({ k: "props", list });
  }
  return { type: T.AUTH, flags: 0, version: 5, fields, name: "AUTH v5" };
}

/** Identifiers valid in a packet type's property list (WILL for will properties). */
export function propContext(m: Model, field: Field): number {
  return field.k === "props" && field.will ? WILL : m.type;
}
