/**
 * Unit tests of the fuzz helpers themselves: the generators' valid packets are valid (an
 * independent parser, npm:mqtt-packet with a fresh parser per packet, decodes each to its type),
 * mutations change the bytes, and a plan depends on (seed, index) alone. No broker, no I/O.
 */

import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../assert.ts";
import {
  encode,
  genAck,
  genAuth,
  genConnack,
  genConnect,
  genDisconnect,
  type GenOptions,
  genPublish,
  genSuback,
  genSubscribe,
  genUnsuback,
  genUnsubscribe,
  hex,
  type Model,
  mutate,
  planConnection,
  Rng,
  T,
  varint,
  type Version,
} from "./mod.ts";

const O: GenOptions = { topicPrefix: "fz/unit", idPrefix: "zz", idPool: 8 };
const N = 300;

const CMD: Record<number, string> = {
  [T.CONNECT]: "connect",
  [T.CONNACK]: "connack",
  [T.PUBLISH]: "publish",
  [T.PUBACK]: "puback",
  [T.PUBREL]: "pubrel",
  [T.PUBCOMP]: "pubcomp",
  [T.SUBSCRIBE]: "subscribe",
  [T.SUBACK]: "suback",
  [T.UNSUBSCRIBE]: "unsubscribe",
  [T.UNSUBACK]: "unsuback",
  [T.DISCONNECT]: "disconnect",
  [T.AUTH]: "auth",
};

/** Decodes with a fresh mqtt-packet parser; the command name, or the parser's error. */
function parse(bytes: Uint8Array, v: Version): string {
  const parser = mqttPacket.parser({ protocolVersion: v });
  let out = "no packet";
  parser.on("packet", (p: { cmd: string }) => out = p.cmd);
  parser.on("error", (e: Error) => out = `error: ${e.message}`);
  parser.parse(Buffer.from(bytes));
  return out;
}

const GENERATORS: readonly [string, (rng: Rng, v: Version) => Model][] = [
  ["CONNECT", (r, v) => genConnect(r, v, O)],
  ["PUBLISH", (r, v) => genPublish(r, v, O)],
  ["PUBACK", (r, v) => genAck(r, v, T.PUBACK)],
  ["PUBREL", (r, v) => genAck(r, v, T.PUBREL)],
  ["PUBCOMP", (r, v) => genAck(r, v, T.PUBCOMP)],
  ["SUBSCRIBE", (r, v) => genSubscribe(r, v, O)],
  ["UNSUBSCRIBE", (r, v) => genUnsubscribe(r, v, O)],
  ["DISCONNECT", (r, v) => genDisconnect(r, v)],
  ["CONNACK", (r, v) => genConnack(r, v)],
  ["SUBACK", (r, v) => genSuback(r, v)],
  ["UNSUBACK", (r, v) => genUnsuback(r, v)],
];

for (const [name, gen] of GENERATORS) {
  Deno.test(`fuzz gen: every generated ${name} decodes as one (3.1.1 and 5.0)`, () => {
    for (const v of [4, 5] as const) {
      for (let i = 0; i < N; i++) {
        const m = gen(new Rng(i), v);
        const bytes = encode(m);
        assertEquals(parse(bytes, v), CMD[m.type], `${m.name} seed ${i}: ${hex(bytes)}`);
      }
    }
  });
}

Deno.test("fuzz gen: AUTH with a reason code decodes as AUTH (5.0)", () => {
  // The empty AUTH (f0 00) is valid [MQTT 5.0 3.15.2.1] but mqtt-packet 9 refuses it: skipped.
  for (let i = 0; i < N; i++) {
    const bytes = encode(genAuth(new Rng(i)));
    if (bytes.length > 2) assertEquals(parse(bytes, 5), "auth", hex(bytes));
  }
});

Deno.test("fuzz mutate: a mutated packet differs from the valid one", () => {
  let same = 0;
  for (let i = 0; i < 2000; i++) {
    const rng = new Rng(i);
    const v: Version = i % 2 === 0 ? 4 : 5;
    const [, gen] = GENERATORS[i % GENERATORS.length]!;
    const seed = rng.u32();
    const valid = encode(gen(new Rng(seed), v));
    const bad = mutate(rng, gen(new Rng(seed), v), O);
    assert(bad.name.includes("+"), `mutation names itself: ${bad.name}`);
    if (hex(bad.bytes) === hex(valid)) same++;
  }
  // A bit flip can land where a byte's value does not matter only by changing it; an unchanged
  // packet needs e.g. a duplicated field that was empty. Rare.
  assert(same < 20, `${same} of 2000 mutations left the bytes unchanged`);
});

Deno.test("fuzz plan: connection i's bytes depend on the seed and i alone", () => {
  for (let i = 0; i < 500; i++) {
    const a = planConnection(7, i, O);
    const b = planConnection(7, i, O);
    assertEquals(a.writes.map((w) => hex(w.bytes)), b.writes.map((w) => hex(w.bytes)), `#${i}`);
    const packets = a.packets.map((p) => hex(p.bytes)).join(" ");
    const written = a.writes.map((w) => hex(w.bytes)).join(" ");
    assert(packets === written, `#${i}: the writes carry exactly the packets`);
  }
  const other = planConnection(8, 0, O).packets.map((p) => hex(p.bytes)).join("|");
  assert(other !== planConnection(7, 0, O).packets.map((p) => hex(p.bytes)).join("|"), "seeds");
});

Deno.test("fuzz wire: varint writes minimal, padded and 5-byte encodings", () => {
  assertEquals(Array.from(varint(0)), [0], "0");
  assertEquals(Array.from(varint(321)), [0xc1, 0x02], "321 [MQTT 5.0 1.5.5]");
  assertEquals(Array.from(varint(5, 2)), [0x85, 0x80, 0x00], "5, non-minimal");
  assertEquals(varint(268_435_456).length, 5, "above the maximum takes 5 bytes");
});

Deno.test("fuzz prng: the same seed gives the same stream, ints stay in bounds", () => {
  const a = new Rng(99);
  const b = new Rng(99);
  for (let i = 0; i < 1000; i++) {
    const x = a.int(3, 9);
    assertEquals(x, b.int(3, 9), `draw ${i}`);
    assert(x >= 3 && x <= 9, `${x} in [3, 9]`);
  }
});
