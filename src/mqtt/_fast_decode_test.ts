// The hand-written hot-path decoder and ack encoder must give exactly what mqtt-packet gives:
// random packets are encoded by mqtt-packet, then decoded both by PacketDecoder (fast path) and
// by a plain mqtt-packet parser, and the objects compared; acks are encoded both ways.
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { Buffer } from "node:buffer";
import { encodePacket, PacketDecoder, type ProtocolVersion } from "./codec.ts";

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["a", "b/c", "sensor", "温度", "x".repeat(40), "é", "$x", "long/" + "y".repeat(70)];

function randomPublish(r: () => number, version: ProtocolVersion): Packet {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const qos = pick([0, 1, 2] as const);
  const payload = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => (r() * 256) | 0));
  const p: Record<string, unknown> = {
    cmd: "publish",
    topic: pick(WORDS) + "/" + Math.floor(r() * 1000),
    payload,
    qos,
    retain: r() < 0.3,
    dup: qos > 0 && r() < 0.2,
  };
  if (qos > 0) p.messageId = 1 + Math.floor(r() * 65535);
  if (version === 5 && r() < 0.7) {
    const props: Record<string, unknown> = {};
    if (r() < 0.4) props.payloadFormatIndicator = r() < 0.5;
    if (r() < 0.4) props.messageExpiryInterval = Math.floor(r() * 2 ** 32);
    if (r() < 0.3) props.contentType = pick(WORDS);
    if (r() < 0.3) props.responseTopic = pick(WORDS);
    if (r() < 0.3) props.correlationData = Buffer.from([1, 2, 3, Math.floor(r() * 256)]);
    if (r() < 0.3) props.topicAlias = 1 + Math.floor(r() * 100);
    if (r() < 0.2) props.subscriptionIdentifier = 1 + Math.floor(r() * 268435455);
    if (r() < 0.4) {
      props.userProperties = { k: r() < 0.5 ? "v" : ["v1", "v2", "温"], [pick(WORDS)]: "w" };
    }
    p.properties = props;
  }
  return p as unknown as Packet;
}

function randomAck(r: () => number, version: ProtocolVersion): Packet {
  const cmd = (["puback", "pubrec", "pubrel", "pubcomp"] as const)[Math.floor(r() * 4)]!;
  const p: Record<string, unknown> = { cmd, messageId: 1 + Math.floor(r() * 65535) };
  if (version === 5) {
    p.reasonCode = r() < 0.5 ? 0 : cmd === "pubrel" || cmd === "pubcomp" ? 146 : 16;
  }
  return p as unknown as Packet;
}

/** mqtt-packet's own parse of one frame, as a reference. */
function reference(bytes: Uint8Array, version: ProtocolVersion): Packet {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let got: Packet | null = null;
  parser.on("packet", (p: Packet) => (got = p));
  parser.on("error", (e: Error) => {
    throw e;
  });
  parser.parse(Buffer.from(bytes));
  assert.ok(got !== null);
  return got;
}

/** Buffers and Uint8Arrays compare by content; null-prototype objects as plain ones. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

for (const version of [3, 4, 5] as const) {
  Deno.test(`fast decode: PUBLISH, acks and PINGREQ match mqtt-packet (MQTT level ${version})`, () => {
    const r = rng(version * 7919);
    for (let i = 0; i < 2000; i++) {
      const packet = i % 3 === 0 ? randomAck(r, version) : randomPublish(r, version);
      const bytes = new Uint8Array(mqttPacket.generate(packet, { protocolVersion: version }));
      const decoder = new PacketDecoder({ maxPacketSize: 1 << 20, protocolVersion: version });
      const [res] = decoder.push(bytes);
      assert.ok(res?.ok, `packet ${i}: ${JSON.stringify(res)}`);
      assert.deepEqual(plain(res.packet), plain(reference(bytes, version)), `packet ${i}`);
    }
    const ping = new PacketDecoder({ maxPacketSize: 10, protocolVersion: version });
    const [res] = ping.push(new Uint8Array([0xc0, 0x00]));
    assert.ok(res?.ok);
    assert.deepEqual(plain(res.packet), plain(reference(new Uint8Array([0xc0, 0]), version)));
  });

  Deno.test(`fast encode: acks and PINGRESP are byte for byte mqtt-packet's (level ${version})`, () => {
    const r = rng(version * 104729);
    const cases: Packet[] = [{ cmd: "pingresp" }];
    for (let i = 0; i < 500; i++) cases.push(randomAck(r, version));
    if (version === 5) {
      cases.push({ cmd: "puback", messageId: 7 } as Packet); // no reason code given
    }
    for (const packet of cases) {
      const want = new Uint8Array(mqttPacket.generate(packet, { protocolVersion: version }));
      assert.deepEqual([...encodePacket(packet, version)], [...want], JSON.stringify(packet));
    }
  });
}
