/**
 * PacketDecoder framing: several packets per chunk, splits at every byte, payload views, the
 * packet-size bound from the header, buffering, remaining-length, UTF-8, flag and packet-id
 * checks on MQTT 3.1.1. MQTT 5, MQTT 3.1 and encodePacket() are in codec_v5_test.ts.
 */

import assert from "node:assert/strict";
import { type DecodeResult, encodePacket, type IPublishPacket, PacketDecoder } from "./codec.ts";
import { concat, decodeChunks, failure, ok, u8 } from "./_codec_test_util.ts";

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
