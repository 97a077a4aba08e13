import assert from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import {
  asBuffer,
  type DecodeResult,
  encodePacket,
  type IPublishPacket,
  type Packet,
  PacketDecoder,
} from "./codec.ts";

const u8 = (...b: number[]) => new Uint8Array(b);

const concat = (...parts: Uint8Array[]) => concatBytes(parts);

function ok(r: DecodeResult | undefined): Packet {
  assert.ok(r !== undefined && r.ok, `expected a packet, got ${JSON.stringify(r)}`);
  return r.packet;
}

function failure(results: DecodeResult[], code: number, text?: string): void {
  const last = results[results.length - 1];
  assert.ok(last !== undefined && !last.ok, `expected an error, got ${JSON.stringify(results)}`);
  assert.equal(last.reasonCode, code, last.message);
  if (text !== undefined) assert.match(last.message, new RegExp(text));
}

const connect4 = encodePacket(
  {
    cmd: "connect",
    clientId: "c1",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
  },
  4,
);
const stream4 = concat(
  connect4,
  encodePacket({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a/+", qos: 1 }] }, 4),
  encodePacket({
    cmd: "publish",
    topic: "a/b",
    payload: u8(1, 2, 3) as IPublishPacket["payload"],
    qos: 1,
    messageId: 2,
    dup: false,
    retain: false,
  }, 4),
  encodePacket({ cmd: "pubrel", messageId: 3 }, 4),
  encodePacket({ cmd: "pingreq" }, 4),
  encodePacket({ cmd: "disconnect" }, 4),
);

function decodeChunks(chunks: Uint8Array[], max = 1 << 20): DecodeResult[] {
  const d = new PacketDecoder({ maxPacketSize: max });
  return chunks.flatMap((c) => d.push(c));
}

Deno.test("PacketDecoder.push() decodes several packets from one chunk", () => {
  const results = decodeChunks([stream4]);
  assert.deepEqual(
    results.map((r) => ok(r).cmd),
    ["connect", "subscribe", "publish", "pubrel", "pingreq", "disconnect"],
  );
  const pub = ok(results[2]) as IPublishPacket;
  assert.equal(pub.topic, "a/b");
  assert.equal(pub.messageId, 2);
  assert.deepEqual([...(pub.payload as Uint8Array)], [1, 2, 3]);
});

Deno.test("PacketDecoder.push() gives the same packets when split at every byte boundary", () => {
  const whole = JSON.stringify(decodeChunks([stream4]));
  for (let i = 0; i <= stream4.length; i++) {
    const split = decodeChunks([stream4.subarray(0, i), stream4.subarray(i)]);
    assert.equal(JSON.stringify(split), whole, `split at ${i}`);
  }
  const bytewise = decodeChunks([...stream4].map((b) => u8(b)));
  assert.equal(JSON.stringify(bytewise), whole);
});

Deno.test("PacketDecoder.push() returns a payload view into the chunk when the packet is whole", () => {
  const results = decodeChunks([stream4]);
  const pub = ok(results[2]) as IPublishPacket;
  assert.equal((pub.payload as Uint8Array).buffer, stream4.buffer);
});

Deno.test("PacketDecoder.push() fails with 0x95 from the header alone when the packet is too large", () => {
  const d = new PacketDecoder({ maxPacketSize: 1000 });
  // PUBLISH with remaining length 2000 (0xd0 0x0f): no body sent at all.
  const results = d.push(u8(0x30, 0xd0, 0x0f));
  failure(results, 0x95, "2000 bytes exceeds the maximum of 1000");
  assert.ok(d.dead);
  assert.deepEqual(d.push(u8(0xc0, 0x00)), []);
});

Deno.test("PacketDecoder.push() buffers what arrived, not what a header claims", () => {
  // A PUBLISH whose header announces 256 MB (MQTT's largest; the limit allows it) and whose
  // bytes come 64 KiB at a time: the buffer stays within four times what arrived, never the claim.
  const max = 268_435_455;
  const d = new PacketDecoder({ maxPacketSize: max });
  const header = u8(0x30, 0xff, 0xff, 0xff, 0x7f, 0, 3, 0x61, 0x2f, 0x62); // topic "a/b"
  assert.deepEqual(d.push(header), []);
  assert.ok(d.bufferedCapacity < 1024, `capacity ${d.bufferedCapacity} after the header`);
  const piece = new Uint8Array(64 * 1024).fill(0x78);
  let arrived = header.length;
  for (let i = 0; i < 32; i++) {
    assert.deepEqual(d.push(piece), []);
    arrived += piece.length;
    assert.ok(d.bufferedCapacity <= 4 * arrived, `capacity ${d.bufferedCapacity} for ${arrived}`);
  }
  assert.ok(!d.idle && !d.dead);
});

Deno.test("PacketDecoder.push() sizes a big packet whole once a quarter of it arrived", () => {
  // 1 MiB of payload in 64 KiB reads: doublings first, then one buffer of the packet's size (no
  // more doublings for a packet that is really coming), and the packet completes from it.
  const payload = new Uint8Array(1 << 20).map((_, i) => i % 253);
  const packet = encodePacket({
    cmd: "publish",
    topic: "big/q",
    payload: payload as IPublishPacket["payload"],
    qos: 0,
    dup: false,
    retain: false,
  }, 4);
  const d = new PacketDecoder({ maxPacketSize: 2 << 20 });
  const results: DecodeResult[] = [];
  let sawWhole = false;
  for (let at = 0; at < packet.length; at += 65536) {
    results.push(...d.push(packet.subarray(at, at + 65536)));
    const arrived = Math.min(at + 65536, packet.length);
    if (results.length > 0) break;
    assert.ok(d.bufferedCapacity <= 4 * arrived, `capacity ${d.bufferedCapacity} for ${arrived}`);
    if (arrived * 4 >= packet.length) {
      assert.equal(d.bufferedCapacity, packet.length);
      sawWhole = true;
    }
  }
  assert.ok(sawWhole);
  assert.equal(results.length, 1);
  assert.deepEqual(
    new Uint8Array((ok(results[0]) as IPublishPacket).payload as Uint8Array),
    payload,
  );
});

Deno.test("PacketDecoder.push() completes a packet that grew across many small reads", () => {
  // 100 KB of payload in reads of 1 to 4,000 bytes: the same packet as when sent whole.
  const payload = new Uint8Array(100_000).map((_, i) => i % 251);
  const packet = encodePacket({
    cmd: "publish",
    topic: "big/t",
    payload: payload as IPublishPacket["payload"],
    qos: 1,
    messageId: 7,
    dup: false,
    retain: false,
  }, 4);
  const d = new PacketDecoder({ maxPacketSize: 1 << 20 });
  const results: DecodeResult[] = [];
  for (let at = 0, step = 1; at < packet.length; at += step, step = (step * 7 + 3) % 4000 + 1) {
    results.push(...d.push(packet.subarray(at, at + step)));
  }
  assert.equal(results.length, 1);
  const pub = ok(results[0]) as IPublishPacket;
  assert.equal(pub.topic, "big/t");
  assert.deepEqual(new Uint8Array(pub.payload as Uint8Array), payload);
  assert.ok(d.idle);
  assert.equal(d.bufferedCapacity, 0);
});

Deno.test("PacketDecoder.push() accepts a remaining length equal to maxPacketSize", () => {
  const d = new PacketDecoder({ maxPacketSize: 5 });
  ok(d.push(u8(0x30, 5, 0, 1, 0x61, 0x68, 0x69))[0]);
});

Deno.test("PacketDecoder.push() fails with 0x81 on a 5-byte or non-minimal remaining length", () => {
  failure(decodeChunks([u8(0x30, 0xff, 0xff, 0xff, 0xff, 0x7f)], 2 ** 31), 0x81, "longer than 4");
  // Split inside the length field too.
  failure(decodeChunks([u8(0x30, 0xff, 0xff), u8(0xff, 0xff, 0x01)], 2 ** 31), 0x81);
  failure(decodeChunks([u8(0xc0, 0x80, 0x00)]), 0x81, "minimally");
});

Deno.test("PacketDecoder.push() fails with 0x81 on invalid UTF-8 or U+0000 in a topic", () => {
  failure(
    decodeChunks([u8(0x30, 5, 0, 2, 0xc3, 0x28, 0x41)]),
    0x81,
    "topic name is not valid UTF-8",
  );
  // Encoded surrogate U+D800 (ED A0 80) is ill-formed [MQTT-1.5.4-1].
  failure(decodeChunks([u8(0x30, 5, 0, 3, 0xed, 0xa0, 0x80)]), 0x81, "UTF-8");
  failure(decodeChunks([u8(0x30, 4, 0, 2, 0x61, 0x00)]), 0x81, "U\\+0000");
  // SUBSCRIBE with an ill-formed filter.
  failure(
    decodeChunks([u8(0x82, 6, 0, 1, 0, 1, 0xff, 0)]),
    0x81,
    "topic filter is not valid UTF-8",
  );
  // UNSUBSCRIBE likewise.
  failure(decodeChunks([u8(0xa2, 5, 0, 1, 0, 1, 0xc0)]), 0x81, "UTF-8");
  // CONNECT with an ill-formed client id.
  const bad = connect4.slice();
  bad[bad.length - 1] = 0xff;
  failure(decodeChunks([bad]), 0x81, "client identifier is not valid UTF-8");
});

Deno.test("PacketDecoder.push() fails with 0x81 on reserved fixed-header flags", () => {
  failure(decodeChunks([u8(0x80, 6, 0, 1, 0, 1, 0x61, 0)]), 0x81, "flags must be 2"); // SUBSCRIBE
  failure(decodeChunks([u8(0xa0, 5, 0, 1, 0, 1, 0x61)]), 0x81, "flags must be 2"); // UNSUBSCRIBE
  failure(decodeChunks([u8(0x60, 2, 0, 1)]), 0x81, "flags must be 2"); // PUBREL
  failure(decodeChunks([u8(0xc1, 0)]), 0x81, "flags must be 0"); // PINGREQ
  failure(decodeChunks([u8(0x00, 0)]), 0x81, "reserved packet type");
  failure(decodeChunks([u8(0xf0, 0)]), 0x81, "reserved packet type"); // AUTH before v5
});

Deno.test("PacketDecoder.push() fails with 0x81 on PUBLISH QoS 3 and a missing or zero packet id", () => {
  failure(decodeChunks([u8(0x36, 5, 0, 1, 0x61, 0, 1)]), 0x81, "QoS is 3");
  failure(decodeChunks([u8(0x32, 3, 0, 1, 0x61)]), 0x81, "packet identifier runs past");
  failure(decodeChunks([u8(0x32, 5, 0, 1, 0x61, 0, 0)]), 0x81, "packet identifier is 0");
  failure(decodeChunks([u8(0x82, 6, 0, 0, 0, 1, 0x61, 0)]), 0x81, "packet identifier is 0");
});

Deno.test("PacketDecoder.push() rejects SUBSCRIBE without filters and bad subscription options", () => {
  failure(decodeChunks([u8(0x82, 2, 0, 1)]), 0x82, "no topic filter");
  failure(decodeChunks([u8(0x82, 6, 0, 1, 0, 1, 0x61, 3)]), 0x81, "QoS is 3");
  failure(decodeChunks([u8(0x82, 6, 0, 1, 0, 1, 0x61, 4)]), 0x81, "reserved subscription option");
});

Deno.test("PacketDecoder.push() rejects CONNECT flaws mqtt-packet lets through", () => {
  failure(
    decodeChunks([concat(connect4.slice(0, 1), u8(connect4[1]! + 2), connect4.slice(2), u8(9, 9))]),
    0x81,
    "unexpected bytes",
  );
  // Will QoS 3 with the will flag.
  failure(
    decodeChunks([u8(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x1e, 0, 60, 0, 0)]),
    0x81,
    "will QoS is 3",
  );
  // 3.1.1: password without user name.
  failure(
    decodeChunks([u8(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x42, 0, 60, 0, 0)]),
    0x81,
    "password",
  );
  // Unknown protocol level and name: 0x84 so the shard can answer with CONNACK.
  failure(decodeChunks([u8(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 2, 0, 60, 0, 0)]), 0x84);
  failure(decodeChunks([u8(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x58, 4, 2, 0, 60, 0, 0)]), 0x84);
  failure(decodeChunks([u8(0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 3, 2, 0, 60, 0, 0)]), 0x84);
});

Deno.test("PacketDecoder.push() returns the packets before an error, then nothing", () => {
  const d = new PacketDecoder({ maxPacketSize: 100 });
  const results = d.push(concat(u8(0xc0, 0), u8(0x36, 5, 0, 1, 0x61, 0, 1), u8(0xc0, 0)));
  assert.equal(results.length, 2);
  assert.equal(ok(results[0]).cmd, "pingreq");
  failure(results, 0x81);
  assert.deepEqual(d.push(u8(0xc0, 0)), []);
});

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
