import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import type { Message } from "./message.ts";
import { encodePublish, type PublishFields } from "./publish_encoder.ts";

function message(over: Partial<Message> = {}): Message {
  return {
    topic: "a/ü/c",
    payload: new TextEncoder().encode("hello"),
    qos: 2,
    retain: true,
    properties: {},
    origin: "p",
    expiresAt: 0,
    timestamp: 0,
    ...over,
  };
}

/** Decodes with mqtt-packet, an independent implementation. */
function parse(bytes: Uint8Array, protocolVersion: 4 | 5): mqttPacket.IPublishPacket {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: mqttPacket.Packet[] = [];
  parser.on("packet", (p) => packets.push(p));
  parser.on("error", (e) => {
    throw e;
  });
  parser.parse(Buffer.from(bytes));
  assert.equal(packets.length, 1);
  return packets[0] as mqttPacket.IPublishPacket;
}

Deno.test("encodePublish() writes a 3.1.1 PUBLISH mqtt-packet reads back", () => {
  const f: PublishFields = { qos: 1, retain: true, dup: true, packetId: 513, protocolVersion: 4 };
  const p = parse(encodePublish(message(), f), 4);
  assert.equal(p.topic, "a/ü/c");
  assert.equal(p.qos, 1);
  assert.equal(p.retain, true);
  assert.equal(p.dup, true);
  assert.equal(p.messageId, 513);
  assert.equal(new TextDecoder().decode(p.payload as Uint8Array), "hello");
});

Deno.test("encodePublish() writes every MQTT 5 property, user properties in order", () => {
  const m = message({
    payload: new Uint8Array(300),
    properties: {
      payloadFormatIndicator: true,
      contentType: "text/plain",
      responseTopic: "r/1",
      correlationData: new Uint8Array([1, 2, 3]),
      userProperties: [["a", "1"], ["b", "2"], ["a", "3"]],
    },
  });
  const bytes = encodePublish(m, {
    qos: 2,
    retain: false,
    dup: false,
    packetId: 7,
    protocolVersion: 5,
    topicAlias: 3,
    subscriptionIds: [1, 200000],
    expirySeconds: 60,
  });
  const p = parse(bytes, 5);
  const props = p.properties!;
  assert.equal(props.payloadFormatIndicator, true);
  assert.equal(props.contentType, "text/plain");
  assert.equal(props.responseTopic, "r/1");
  assert.deepEqual([...(props.correlationData as Uint8Array)], [1, 2, 3]);
  assert.equal(props.topicAlias, 3);
  assert.equal(props.messageExpiryInterval, 60);
  assert.deepEqual(props.subscriptionIdentifier, [1, 200000]);
  assert.deepEqual({ ...props.userProperties }, { a: ["1", "3"], b: "2" });
  // Exact wire order of the user properties: a=1, b=2, a=3.
  const text = new TextDecoder().decode(bytes);
  const at = (k: string, v: string) => text.indexOf(`${k}\u0000\u0001${v}`);
  assert.ok(at("a", "1") > 0 && at("a", "1") < at("b", "2") && at("b", "2") < at("a", "3"));
  assert.equal(p.payload.length, 300);
});

Deno.test("encodePublish() sends an empty topic name with aliasOnly", () => {
  const bytes = encodePublish(message(), {
    qos: 0,
    retain: false,
    dup: true, // ignored at QoS 0 [MQTT-3.3.1-2]
    packetId: 0,
    protocolVersion: 5,
    topicAlias: 2,
    aliasOnly: true,
  });
  const p = parse(bytes, 5);
  assert.equal(p.topic, "");
  assert.equal(p.dup, false);
  assert.equal(p.properties?.topicAlias, 2);
});
