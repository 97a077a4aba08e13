/**
 * Fuzz helper: packets a client may not send: the server-only types (CONNACK, SUBACK, UNSUBACK,
 * PINGRESP), the reserved types 0 and (on 3.1.1) 15, each well formed as the server would send
 * it; and the regression corpus, exact byte strings that once broke a broker (issue #10). A
 * server must treat each of them as an error of the connection that sent it alone. Pure.
 */

import type { Rng } from "./prng.ts";
import { someProps } from "./props.ts";
import { type Field, type Model, T, type Version } from "./wire.ts";

/** CONNACK return codes (3.1.1, 3.2.2.3) and reason codes (5.0, 3.2.2.2). */
const CONNACK_CODES: Readonly<Record<Version, readonly number[]>> = {
  4: [0, 1, 2, 3, 4, 5],
  5: [
    0x00,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x8c,
    0x90,
    0x95,
    0x97,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9f,
  ],
};
const SUBACK_CODES: Readonly<Record<Version, readonly number[]>> = {
  4: [0, 1, 2, 0x80],
  5: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
};
const UNSUBACK_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const CONNACK_PROPS = [
  0x11,
  0x12,
  0x13,
  0x1a,
  0x1c,
  0x1f,
  0x21,
  0x22,
  0x24,
  0x25,
  0x27,
  0x28,
  0x29,
  0x2a,
];

function pid(rng: Rng): Field {
  return { k: "u16", n: rng.int(1, 20), role: "packetId" };
}

/** CONNACK [MQTT 5.0 3.2] as a server would send it. */
export function genConnack(rng: Rng, v: Version): Model {
  const fields: Field[] = [
    { k: "u8", n: rng.int(0, 1), role: "sessionPresent" },
    { k: "u8", n: rng.pick(CONNACK_CODES[v]), role: "reason" },
  ];
  if (v === 5) fields.push({ k: "props", list: someProps(rng, CONNACK_PROPS, 0.2, "fz") });
  return { type: T.CONNACK, flags: 0, version: v, fields, name: `CONNACK v${v}` };
}

/** SUBACK [MQTT 5.0 3.9] with 1-4 codes. */
export function genSuback(rng: Rng, v: Version): Model {
  const fields: Field[] = [pid(rng)];
  if (v === 5) fields.push({ k: "props", list: someProps(rng, [0x1f], 0.3, "") });
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) fields.push({ k: "u8", n: rng.pick(SUBACK_CODES[v]) });
  return { type: T.SUBACK, flags: 0, version: v, fields, name: `SUBACK v${v}` };
}

/** UNSUBACK [MQTT 5.0 3.11]: the packet id alone on 3.1.1, with codes on 5.0. */
export function genUnsuback(rng: Rng, v: Version): Model {
  const fields: Field[] = [pid(rng)];
  if (v === 5) {
    fields.push({ k: "props", list: someProps(rng, [0x1f], 0.3, "") });
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) fields.push({ k: "u8", n: rng.pick(UNSUBACK_CODES) });
  }
  return { type: T.UNSUBACK, flags: 0, version: v, fields, name: `UNSUBACK v${v}` };
}

/** PINGRESP [MQTT 5.0 3.13]. */
export function genPingresp(v: Version): Model {
  return { type: T.PINGRESP, flags: 0, version: v, fields: [], name: `PINGRESP v${v}` };
}

/** A packet of reserved type 0, or 15 on 3.1.1, with a few body bytes [MQTT 5.0 2.1.2]. */
export function genReserved(rng: Rng, v: Version): Model {
  const type = v === 4 && rng.chance(0.5) ? 15 : 0;
  const body: Field = { k: "raw", b: rng.bytes(rng.int(0, 4)) };
  return { type, flags: rng.int(0, 15), version: v, fields: [body], name: `RESERVED${type} v${v}` };
}

/** One exact byte string of the regression corpus. */
export interface CorpusEntry {
  /** Protocol levels whose connections send it (after a valid CONNECT). */
  versions: readonly Version[];
  name: string;
  bytes: Uint8Array;
}

/**
 * Byte strings that broke a broker before; sent as they are, after a valid CONNECT. The first
 * three are issue #10's: each left the shard's decoder broken for every later connection.
 */
export const CORPUS: readonly CorpusEntry[] = [
  { versions: [5], name: "#10 DISCONNECT reason 0xff", bytes: Uint8Array.of(0xe0, 0x01, 0xff) },
  { versions: [5], name: "#10 DISCONNECT reason 0x01", bytes: Uint8Array.of(0xe0, 0x01, 0x01) },
  {
    versions: [4, 5],
    name: "#10 CONNACK with bad flags",
    bytes: Uint8Array.of(0x20, 0x02, 0xfe, 0x00),
  },
  {
    versions: [4, 5],
    name: "5-byte remaining length",
    bytes: Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00),
  },
  { versions: [4, 5], name: "PINGREQ with a body", bytes: Uint8Array.of(0xc0, 0x01, 0x00) },
  { versions: [4, 5], name: "SUBSCRIBE, nothing after", bytes: Uint8Array.of(0x82, 0x00) },
  { versions: [4, 5], name: "DISCONNECT with flags 2", bytes: Uint8Array.of(0xe2, 0x00) },
  {
    versions: [5],
    name: "AUTH 0x18 without method",
    bytes: Uint8Array.of(0xf0, 0x02, 0x18, 0x00),
  },
];
