import assert from "node:assert/strict";
import { asBuffer, encodePacket, type IPublishPacket, PacketDecoder } from "./codec.ts";
import {
  decodeMessage,
  encodeMessage,
  isExpired,
  type Message,
  remainingExpirySeconds,
} from "./message.ts";
import { fromPublishPacket, fromWill } from "./message_from.ts";

const full: Message = {
  topic: "家/温度/🙂",
  payload: new Uint8Array([0, 1, 2, 255]),
  qos: 2,
  retain: true,
  properties: {
    payloadFormatIndicator: true,
    contentType: "application/json",
    responseTopic: "reply/ü",
    correlationData: new Uint8Array([9, 8, 7]),
    userProperties: [["b", "1"], ["a", "2"], ["b", "3"], ["", ""], ["ключ", "значение"]],
  },
  origin: "client-Ω",
  expiresAt: 1_700_000_123_456,
  timestamp: 1_700_000_000_000,
};

function plain(m: Message): unknown {
  const p = m.properties;
  // The decoder's topic bytes are a cache of `topic`, not part of the message.
  const { topicBytes: _b, topicBytesOf: _of, ...rest } = m;
  return {
    ...rest,
    payload: [...m.payload],
    properties: {
      ...p,
      ...(p.correlationData ? { correlationData: [...p.correlationData] } : {}),
    },
  };
}

Deno.test("decodeMessage() round-trips encodeMessage() with every property", () => {
  const back = decodeMessage(encodeMessage(full));
  assert.deepEqual(plain(back), plain(full));
  // User properties keep their order and duplicates exactly.
  assert.deepEqual(back.properties.userProperties, full.properties.userProperties);
});

Deno.test("decodeMessage() round-trips a message without properties", () => {
  const m: Message = {
    topic: "a",
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    properties: {},
    origin: "",
    expiresAt: 0,
    timestamp: 0,
  };
  assert.deepEqual(plain(decodeMessage(encodeMessage(m))), plain(m));
  const pfiFalse = { ...m, properties: { payloadFormatIndicator: false } };
  assert.equal(decodeMessage(encodeMessage(pfiFalse)).properties.payloadFormatIndicator, false);
});

Deno.test("decodeMessage() returns payload and correlation data as views, not copies", () => {
  const bytes = encodeMessage(full);
  const back = decodeMessage(bytes);
  assert.equal(back.payload.buffer, bytes.buffer);
  assert.equal(back.properties.correlationData!.buffer, bytes.buffer);
});

Deno.test("decodeMessage() works on a record at an offset inside a larger buffer", () => {
  const bytes = encodeMessage(full);
  const big = new Uint8Array(bytes.length + 7);
  big.set(bytes, 3);
  assert.deepEqual(plain(decodeMessage(big.subarray(3, 3 + bytes.length))), plain(full));
});

Deno.test("decodeMessage() throws SyntaxError on truncated records and unknown versions", () => {
  const bytes = encodeMessage(full);
  for (const cut of [0, 1, 10, 25, bytes.length - 1]) {
    assert.throws(() => decodeMessage(bytes.subarray(0, cut)), SyntaxError, `cut at ${cut}`);
  }
  const other = bytes.slice();
  other[0] = 2;
  assert.throws(() => decodeMessage(other), SyntaxError);
});

Deno.test("remainingExpirySeconds() gives the remaining expiry in whole seconds, rounded up", () => {
  const m = { ...full, expiresAt: 11_500 };
  assert.equal(remainingExpirySeconds(m, 1_000), 11);
  assert.equal(remainingExpirySeconds(m, 1_500), 10);
  assert.equal(remainingExpirySeconds(m, 11_499), 1);
  assert.equal(remainingExpirySeconds(m, 20_000), 1); // caller drops these
  assert.equal(remainingExpirySeconds({ ...full, expiresAt: 0 }, 5), 0);
});

Deno.test("fromWill() carries the will's properties like a PUBLISH's, bytes copied", () => {
  const payload = Buffer.from([1, 2, 3]);
  const correlationData = Buffer.from([9, 8]);
  const m = fromWill(
    {
      cmd: "connect",
      clientId: "c",
      will: {
        topic: "w/t",
        payload,
        qos: 1,
        retain: true,
        properties: {
          contentType: "text/plain",
          correlationData,
          messageExpiryInterval: 5,
          userProperties: { k: "v" },
        },
      },
    },
    "c",
    1_000,
  );
  assert.ok(m);
  assert.equal(m.topic, "w/t");
  assert.deepEqual([...m.payload], [1, 2, 3]);
  assert.equal(m.qos, 1);
  assert.equal(m.retain, true);
  assert.equal(m.expiresAt, 6_000);
  assert.equal(m.properties.contentType, "text/plain");
  assert.deepEqual(m.properties.userProperties, [["k", "v"]]);
  payload[0] = 0; // the will keeps its own copies
  correlationData[0] = 0;
  assert.deepEqual([...m.payload], [1, 2, 3]);
  assert.deepEqual([...m.properties.correlationData!], [9, 8]);
  assert.equal(fromWill({ cmd: "connect", clientId: "c" }, "c", 0), null);
});

Deno.test("fromPublishPacket() builds a Message with absolute expiry and grouped user properties", () => {
  const packet: IPublishPacket = {
    cmd: "publish",
    topic: "a/b",
    payload: asBuffer(new Uint8Array([1, 2])),
    qos: 1,
    messageId: 5,
    dup: false,
    retain: true,
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 30,
      contentType: "text/plain",
      correlationData: asBuffer(new Uint8Array([3])),
      userProperties: { a: ["1", "3"], b: "2" },
      topicAlias: 4,
    },
  };
  const m = fromPublishPacket(packet, "pub-1", 10_000);
  assert.equal(m.topic, "a/b");
  assert.equal(m.qos, 1);
  assert.equal(m.retain, true);
  assert.equal(m.origin, "pub-1");
  assert.equal(m.timestamp, 10_000);
  assert.equal(m.expiresAt, 40_000);
  assert.equal(m.payload, packet.payload);
  assert.deepEqual(m.properties.userProperties, [["a", "1"], ["a", "3"], ["b", "2"]]);
  assert.equal(m.properties.payloadFormatIndicator, false);
  assert.equal(m.properties.contentType, "text/plain");
  assert.equal("responseTopic" in m.properties, false);
  assert.ok(!isExpired(m, 39_999) && isExpired(m, 40_000));
});

Deno.test("fromPublishPacket() handles v3 packets, string payloads and no properties", () => {
  const m = fromPublishPacket(
    { cmd: "publish", topic: "t", payload: "hé", qos: 0, dup: false, retain: false },
    "c",
    1,
  );
  assert.deepEqual([...m.payload], [0x68, 0xc3, 0xa9]);
  assert.deepEqual(m.properties, {});
  assert.equal(m.expiresAt, 0);
});

Deno.test("fromPublishPacket() after the wire keeps user properties in wire order", () => {
  // On the wire: b=1, a=2, b=3. mqtt-packet's object form groups by name; the decoder keeps the
  // wire order beside it [MQTT-3.3.2-18].
  const prop = (k: string, v: string) => [0x26, 0, 1, k.charCodeAt(0), 0, 1, v.charCodeAt(0)];
  const props = [...prop("b", "1"), ...prop("a", "2"), ...prop("b", "3")];
  const wire = new Uint8Array([0x30, 4 + props.length, 0, 1, 0x74, props.length, ...props]);
  const connect = encodePacket({
    cmd: "connect",
    clientId: "c",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: true,
    keepalive: 0,
  }, 5);
  const d = new PacketDecoder({ maxPacketSize: 1000 });
  const [, r] = [...d.push(connect), ...d.push(wire)];
  assert.ok(r?.ok && r.packet.cmd === "publish");
  const m = fromPublishPacket(r.packet, "c", 0);
  assert.deepEqual(m.properties.userProperties, [["b", "1"], ["a", "2"], ["b", "3"]]);
});

Deno.test("decodeMessage() with the topic known skips decoding it and keeps its bytes", () => {
  const m: Message = {
    topic: "ä/b",
    payload: new Uint8Array([7]),
    qos: 1,
    retain: true,
    properties: { contentType: "t" },
    origin: "o",
    expiresAt: 0,
    timestamp: 5,
  };
  const b = encodeMessage(m);
  const known = decodeMessage(b, "ä/b");
  assert.deepEqual(plain(known), plain(decodeMessage(b)));
  assert.equal(known.topicBytesOf, "ä/b");
  assert.deepEqual([...known.topicBytes!], [...new TextEncoder().encode("ä/b")]);
});
