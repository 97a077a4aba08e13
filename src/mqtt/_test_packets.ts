/**
 * Test support for the codec tests (never imported by production code): a seeded PRNG, random
 * valid packets of every type a client sends (built as objects and encoded by mqtt-packet's
 * generate, so nothing here shares code with the decoder under test), mqtt-packet's own parse as
 * the reference, and a comparison form that ignores Buffer-vs-Uint8Array and prototypes.
 *
 * @module
 */

import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { Buffer } from "node:buffer";
import type { ProtocolVersion } from "./codec.ts";

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
export function rng(seed: number): () => number {
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

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const bytes = (r: Rand, max: number) =>
  Buffer.from(Array.from({ length: Math.floor(r() * max) }, () => (r() * 256) | 0));
const userProperties = (r: Rand) => ({
  k: r() < 0.5 ? "v" : ["v1", "v2", "温"],
  [pick(r, WORDS)]: "w",
});

/** A random PUBLISH, with MQTT 5 properties at level 5. */
export function randomPublish(r: Rand, version: ProtocolVersion): Packet {
  const qos = pick(r, [0, 1, 2] as const);
  const p: Record<string, unknown> = {
    cmd: "publish",
    topic: pick(r, WORDS) + "/" + Math.floor(r() * 1000),
    payload: bytes(r, 300),
    qos,
    retain: r() < 0.3,
    dup: qos > 0 && r() < 0.2,
  };
  if (qos > 0) p.messageId = 1 + Math.floor(r() * 65535);
  if (version === 5 && r() < 0.7) {
    const props: Record<string, unknown> = {};
    if (r() < 0.4) props.payloadFormatIndicator = r() < 0.5;
    if (r() < 0.4) props.messageExpiryInterval = Math.floor(r() * 2 ** 32);
    if (r() < 0.3) props.contentType = pick(r, WORDS);
    if (r() < 0.3) props.responseTopic = pick(r, WORDS);
    if (r() < 0.3) props.correlationData = Buffer.from([1, 2, 3, Math.floor(r() * 256)]);
    if (r() < 0.3) props.topicAlias = 1 + Math.floor(r() * 100);
    if (r() < 0.2) props.subscriptionIdentifier = 1 + Math.floor(r() * 268435455);
    if (r() < 0.4) props.userProperties = userProperties(r);
    p.properties = props;
  }
  return p as unknown as Packet;
}

/** A random PUBACK/PUBREC/PUBREL/PUBCOMP; at level 5 with a reason code, and properties if asked. */
export function randomAck(r: Rand, version: ProtocolVersion, withProperties = false): Packet {
  const cmd = pick(r, ["puback", "pubrec", "pubrel", "pubcomp"] as const);
  const p: Record<string, unknown> = { cmd, messageId: 1 + Math.floor(r() * 65535) };
  if (version === 5) {
    p.reasonCode = r() < 0.5 ? 0 : cmd === "pubrel" || cmd === "pubcomp" ? 146 : 16;
    if (withProperties) {
      p.properties = { reasonString: pick(r, WORDS), userProperties: userProperties(r) };
    }
  }
  return p as unknown as Packet;
}

/** A random CONNECT at `version` (3 = MQIsdp), with will, credentials and properties. */
export function randomConnect(r: Rand, version: ProtocolVersion): Packet {
  const p: Record<string, unknown> = {
    cmd: "connect",
    protocolId: version === 3 ? "MQIsdp" : "MQTT",
    protocolVersion: version,
    clean: r() < 0.5,
    keepalive: Math.floor(r() * 65536),
    clientId: pick(r, WORDS).slice(0, 23),
  };
  // An empty id needs a clean session, and 3.1 has none (mqtt-packet refuses to write it).
  if (version > 3 && p.clean && r() < 0.2) p.clientId = "";
  if (r() < 0.5) p.username = pick(r, WORDS);
  if (p.username !== undefined && r() < 0.7) p.password = bytes(r, 40);
  if (r() < 0.5) {
    const will: Record<string, unknown> = {
      topic: pick(r, WORDS),
      payload: bytes(r, 100),
      qos: pick(r, [0, 1, 2] as const),
      retain: r() < 0.5,
    };
    if (version === 5 && r() < 0.7) {
      will.properties = {
        willDelayInterval: Math.floor(r() * 1000),
        payloadFormatIndicator: r() < 0.5,
        messageExpiryInterval: Math.floor(r() * 1000),
        contentType: pick(r, WORDS),
        responseTopic: pick(r, WORDS),
        correlationData: bytes(r, 10),
        userProperties: userProperties(r),
      };
    }
    p.will = will;
  }
  if (version === 5 && r() < 0.8) {
    const props: Record<string, unknown> = {};
    if (r() < 0.5) props.sessionExpiryInterval = Math.floor(r() * 2 ** 32);
    if (r() < 0.5) props.receiveMaximum = 1 + Math.floor(r() * 65535);
    if (r() < 0.5) props.maximumPacketSize = 1 + Math.floor(r() * 100000);
    if (r() < 0.5) props.topicAliasMaximum = Math.floor(r() * 65536);
    if (r() < 0.3) props.requestResponseInformation = r() < 0.5;
    if (r() < 0.3) props.requestProblemInformation = r() < 0.5;
    if (r() < 0.3) props.userProperties = userProperties(r);
    if (r() < 0.3) {
      props.authenticationMethod = "SCRAM-SHA-256";
      props.authenticationData = bytes(r, 20);
    }
    p.properties = props;
  }
  return p as unknown as Packet;
}

/** A random SUBSCRIBE or UNSUBSCRIBE with one to five filters. */
export function randomSubscribe(r: Rand, version: ProtocolVersion): Packet {
  const n = 1 + Math.floor(r() * 5);
  const filters = Array.from({ length: n }, () => pick(r, [...WORDS, "a/+/b", "#", "+"]));
  const messageId = 1 + Math.floor(r() * 65535);
  const p: Record<string, unknown> = r() < 0.5
    ? { cmd: "unsubscribe", messageId, unsubscriptions: filters }
    : {
      cmd: "subscribe",
      messageId,
      subscriptions: filters.map((topic) => {
        const s: Record<string, unknown> = { topic, qos: pick(r, [0, 1, 2] as const) };
        if (version === 5) {
          s.nl = r() < 0.5;
          s.rap = r() < 0.5;
          s.rh = pick(r, [0, 1, 2] as const);
        }
        return s;
      }),
    };
  if (version === 5 && r() < 0.6) {
    const props: Record<string, unknown> = { userProperties: userProperties(r) };
    if (p.cmd === "subscribe" && r() < 0.5) {
      props.subscriptionIdentifier = 1 + Math.floor(r() * 268435455);
    }
    p.properties = props;
  }
  return p as unknown as Packet;
}

/** A random DISCONNECT or (level 5) AUTH. */
export function randomEnd(r: Rand, version: ProtocolVersion): Packet {
  if (version !== 5) return { cmd: "disconnect" } as Packet;
  if (r() < 0.3) {
    return {
      cmd: "auth",
      reasonCode: pick(r, [0x00, 0x18, 0x19]),
      properties: { authenticationMethod: "SCRAM-SHA-256", authenticationData: bytes(r, 30) },
    } as unknown as Packet;
  }
  const p: Record<string, unknown> = { cmd: "disconnect", reasonCode: pick(r, [0, 4, 0x80, 0x81]) };
  if (r() < 0.5) {
    p.properties = {
      sessionExpiryInterval: Math.floor(r() * 1000),
      reasonString: pick(r, WORDS),
      userProperties: userProperties(r),
    };
  }
  return p as unknown as Packet;
}

/** A random valid packet of any client-to-server type. */
export function randomClientPacket(r: Rand, version: ProtocolVersion): Packet {
  switch (Math.floor(r() * 6)) {
    case 0:
      return randomConnect(r, version);
    case 1:
      return randomPublish(r, version);
    case 2:
      return randomAck(r, version, r() < 0.5);
    case 3:
      return randomSubscribe(r, version);
    case 4:
      return randomEnd(r, version);
    default:
      return { cmd: "pingreq" } as Packet;
  }
}

/** mqtt-packet's own parse of one frame by a parser made for it alone, as the reference. */
export function reference(frame: Uint8Array, version: ProtocolVersion): Packet {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let got: Packet | null = null;
  parser.on("packet", (p: Packet) => (got = p));
  parser.on("error", (e: Error) => {
    throw e;
  });
  parser.parse(Buffer.from(frame));
  assert.ok(got !== null, "mqtt-packet parsed nothing");
  return got;
}

/** Buffers and Uint8Arrays compare by content; null-prototype objects as plain ones. */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** The wire bytes of `packet` at `version`, by mqtt-packet's generate. */
export function wire(packet: Packet, version: ProtocolVersion): Uint8Array {
  return new Uint8Array(mqttPacket.generate(packet, { protocolVersion: version }));
}
