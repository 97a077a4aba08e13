/**
 * PacketDecoder and encodePacket() beyond the framing of codec_test.ts: the switch to MQTT 5 and
 * its properties, a decoder resumed at an idle level, v5 acks and AUTH, trailing bytes on 3.1.1
 * acks, MQTT 3.1, and encodePacket() against mqtt-packet's own generate.
 */

import assert from "node:assert/strict";
import {
  asBuffer,
  type DecodeResult,
  encodePacket,
  type IPublishPacket,
  type Packet,
  PacketDecoder,
} from "./codec.ts";
import { concat, decodeChunks, failure, ok, u8 } from "./_codec_test_util.ts";

const connect5 = encodePacket({
  cmd: "connect",
  clientId: "c5",
  protocolId: "MQTT",
  protocolVersion: 5,
  clean: true,
  keepalive: 30,
  properties: { sessionExpiryInterval: 300, receiveMaximum: 10 },
}, 5);

// A v5 PUBLISH with every property that has a field of its own.
const publish5 = encodePacket({
  cmd: "publish",
  topic: "t/ü",
  payload: u8(7) as IPublishPacket["payload"],
  qos: 2,
  messageId: 9,
  dup: false,
  retain: true,
  properties: {
    payloadFormatIndicator: true,
    messageExpiryInterval: 60,
    topicAlias: 3,
    contentType: "text/plain",
    responseTopic: "r/1",
    correlationData: asBuffer(u8(1, 2)),
    userProperties: { k: ["v1", "v2"], z: "9" },
  },
}, 5);

Deno.test("PacketDecoder.push() switches to v5 after a v5 CONNECT and decodes PUBLISH properties", () => {
  const d = new PacketDecoder({ maxPacketSize: 1000 });
  assert.equal(d.protocolVersion, 4);
  const stream = concat(connect5, publish5);
  for (let i = 0; i <= stream.length; i++) {
    const dd = new PacketDecoder({ maxPacketSize: 1000 });
    const r = [...dd.push(stream.subarray(0, i)), ...dd.push(stream.subarray(i))];
    assert.equal(r.length, 2, `split at ${i}`);
    assert.equal(dd.protocolVersion, 5);
    const pub = ok(r[1]) as IPublishPacket;
    assert.equal(pub.topic, "t/ü");
    assert.deepEqual(
      {
        ...pub.properties,
        correlationData: [...pub.properties!.correlationData!],
        userProperties: { ...pub.properties!.userProperties },
      },
      {
        payloadFormatIndicator: true,
        messageExpiryInterval: 60,
        topicAlias: 3,
        contentType: "text/plain",
        responseTopic: "r/1",
        correlationData: [1, 2],
        userProperties: { k: ["v1", "v2"], z: "9" },
      },
    );
  }
});

Deno.test("PacketDecoder.idle: a new decoder at the idle one's level continues the stream", () => {
  // How a Channel decodes: it keeps a decoder only while one is not idle (a split packet or an
  // error) and otherwise makes one per read at the protocol level the last one ended at.
  const stream = concat(connect5, publish5, publish5);
  const whole = JSON.stringify(new PacketDecoder({ maxPacketSize: 1000 }).push(stream));
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j += 7) {
      let kept: PacketDecoder | null = null;
      let version: 3 | 4 | 5 = 4;
      const out: DecodeResult[] = [];
      for (const chunk of [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]) {
        const d: PacketDecoder = kept ??
          new PacketDecoder({ maxPacketSize: 1000, protocolVersion: version });
        out.push(...d.push(chunk));
        version = d.protocolVersion;
        kept = d.idle ? null : d;
      }
      assert.equal(JSON.stringify(out), whole, `split at ${i}, ${j}`);
      assert.equal(kept, null);
      assert.equal(version, 5);
    }
  }
  const d = new PacketDecoder({ maxPacketSize: 1000 });
  assert.equal(d.idle, true);
  d.push(connect5.subarray(0, 1));
  assert.equal(d.idle, false); // mid-header
  d.push(connect5.subarray(1));
  assert.equal(d.idle, true);
  d.push(u8(0x30, 0x80, 0x80, 0x80, 0x80, 0x01)); // 5-byte length: dead, never idle again
  assert.equal(d.idle, false);
});

Deno.test("PacketDecoder.push() checks v5 properties: duplicates, overruns, wrong packet", () => {
  const v5 = (...frames: Uint8Array[]) => decodeChunks([connect5, ...frames]);
  // Topic Alias twice.
  failure(v5(u8(0x30, 10, 0, 1, 0x61, 6, 0x23, 0, 1, 0x23, 0, 2)), 0x82, "more than once");
  // Property length 1 but Topic Alias needs 3 bytes.
  failure(v5(u8(0x30, 7, 0, 1, 0x61, 1, 0x23, 0, 1)), 0x81, "runs past");
  // Topic Alias is not a SUBSCRIBE property.
  failure(v5(u8(0x82, 10, 0, 1, 3, 0x23, 0, 1, 0, 1, 0x61, 0)), 0x81, "not allowed");
  // Unknown property id 0x05.
  failure(v5(u8(0x30, 6, 0, 1, 0x61, 2, 0x05, 0)), 0x81, "unknown property");
  // Payload Format Indicator 2.
  failure(v5(u8(0x30, 6, 0, 1, 0x61, 2, 0x01, 2)), 0x82, "must be 0 or 1");
  // Subscription Identifier 0 in SUBSCRIBE.
  failure(v5(u8(0x82, 8, 0, 1, 2, 0x0b, 0, 0, 1, 0x61, 0)), 0x82, "is 0");
  // User property with ill-formed UTF-8 value.
  failure(v5(u8(0x30, 11, 0, 1, 0x61, 7, 0x26, 0, 1, 0x6b, 0, 1, 0xff)), 0x81, "UTF-8");
  // Retain handling 3.
  failure(v5(u8(0x82, 7, 0, 1, 0, 0, 1, 0x61, 0x30)), 0x82, "retain handling");
});

Deno.test("PacketDecoder.push() decodes v5 acks, DISCONNECT and a zero-length AUTH", () => {
  const r = decodeChunks([
    connect5,
    u8(0x40, 2, 0, 1), // PUBACK, reason omitted
    u8(0x50, 3, 0, 2, 0x10), // PUBREC 0x10
    u8(0xe0, 1, 0x04), // DISCONNECT with will
    u8(0xf0, 0), // AUTH, success, no properties
  ]);
  assert.deepEqual(r.map((x) => ok(x).cmd), ["connect", "puback", "pubrec", "disconnect", "auth"]);
  assert.equal((ok(r[2]) as { reasonCode?: number }).reasonCode, 0x10);
  assert.equal((ok(r[3]) as { reasonCode?: number }).reasonCode, 0x04);
  assert.equal((ok(r[4]) as { reasonCode?: number }).reasonCode, 0);
});

Deno.test("PacketDecoder.push() rejects trailing bytes on 3.1.1 acks and PINGREQ", () => {
  failure(decodeChunks([u8(0x40, 3, 0, 1, 0)]), 0x81, "unexpected bytes");
  failure(decodeChunks([u8(0xc0, 1, 0)]), 0x81, "unexpected bytes");
  failure(decodeChunks([u8(0xe0, 1, 0)]), 0x81, "unexpected bytes");
});

Deno.test("encodePacket() accepts Uint8Array binaries and round-trips through the decoder", () => {
  const bytes = encodePacket({
    cmd: "publish",
    topic: "x",
    payload: u8(5, 6) as IPublishPacket["payload"],
    qos: 0,
    dup: false,
    retain: false,
  }, 4);
  assert.deepEqual([...bytes], [0x30, 5, 0, 1, 0x78, 5, 6]);
  assert.equal((ok(decodeChunks([bytes])[0]) as IPublishPacket).topic, "x");
});

Deno.test("encodePacket() throws TypeError for a packet mqtt-packet refuses", () => {
  assert.throws(
    () =>
      encodePacket({
        cmd: "publish",
        topic: "x",
        payload: "",
        qos: 1,
        dup: false,
        retain: false,
      }, 4),
    TypeError,
  );
});

Deno.test("PacketDecoder.push() decodes an MQTT 3.1 CONNECT and switches to level 3", () => {
  const bytes = encodePacket({
    cmd: "connect",
    clientId: "legacy",
    protocolId: "MQIsdp",
    protocolVersion: 3,
    clean: true,
    keepalive: 10,
  }, 3);
  const d = new PacketDecoder({ maxPacketSize: 100 });
  const p = ok(d.push(bytes)[0]);
  assert.equal(p.cmd, "connect");
  assert.equal((p as { clientId: string }).clientId, "legacy");
  assert.equal(d.protocolVersion, 3);
});

Deno.test("encodePacket() writes CONNACK without properties as mqtt-packet does", async () => {
  const { default: mqttPacket } = await import("mqtt-packet");
  for (const version of [3, 4, 5] as const) {
    for (const sessionPresent of [false, true]) {
      for (const code of [0, 1, 5, 0x80, 0x87]) {
        if (version !== 5 && code > 5) continue;
        const packet = (version === 5
          ? { cmd: "connack", reasonCode: code, sessionPresent }
          : { cmd: "connack", returnCode: code, sessionPresent }) as Packet;
        const theirs = new Uint8Array(mqttPacket.generate(packet, { protocolVersion: version }));
        assert.deepEqual(encodePacket(packet, version), theirs, `v${version} ${code}`);
      }
    }
  }
  // With properties it is still mqtt-packet's encoding (a v5 CONNACK with properties).
  const withProps = {
    cmd: "connack",
    reasonCode: 0,
    sessionPresent: false,
    properties: {
      serverKeepAlive: 30,
    },
  } as Packet;
  assert.deepEqual(
    encodePacket(withProps, 5),
    new Uint8Array(mqttPacket.generate(withProps, { protocolVersion: 5 })),
  );
});
