/**
 * Integration suite 11 (properties): MQTT 5.0 message properties end to end across shards —
 * user properties (order and duplicate keys kept), payload format indicator, content type,
 * response topic, correlation data, request/response and subscription identifiers. Subscription
 * options, Maximum Packet Size and Message Expiry on delivery: 11_mqtt5_delivery_test.ts. Topic
 * aliases are in 12_mqtt5_alias_test.ts.
 *
 * Broker: defaults. Judged per MQTT 5.0 sections 3.3.2.3, 3.3.4 and 3.8.3.1.
 */

import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { closeAll, collect, connect, publish, runTag, subscribe } from "./_helpers/clients.ts";
import {
  closeReason,
  openRaw5,
  parseAck5,
  parsePublish5,
  parseSubAck5,
  Prop,
  prop,
  propOf,
  propsOf,
  puback5Packet,
  publish5Packet,
  rc,
  Reason,
  subscribe5Packet,
  userProp,
  userPropsOf,
} from "./_helpers/mqtt5.ts";
import { hex } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";
import { raw5Clients } from "./_helpers/raw5_clients.ts";

const QUIET_MS = 500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `11 mqtt5 props: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t11/${tag}`;
    await withBroker({ shards }, async (b) => {
      const { id, rawSub, rawPub } = raw5Clients(b.port, shards, "c11");

      await t.step(
        "user properties (order, duplicates), payload format, content type, response topic, correlation data pass unaltered [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]",
        async () => {
          const topic = `${base}/props`;
          const sub = await rawSub([{ topic, qos: 1 }]);
          const pub = await rawPub();
          try {
            const users: [string, string][] = [
              ["a", "1"],
              ["b", "2"],
              ["a", "3"],
              ["", ""],
              ["ключ", "значение"],
              ["a", "1"],
            ];
            const corr = Uint8Array.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
            const props = [
              prop(Prop.PAYLOAD_FORMAT_INDICATOR, 1),
              prop(Prop.CONTENT_TYPE, "application/json; charset=utf-8"),
              prop(Prop.RESPONSE_TOPIC, `${base}/reply/x`),
              prop(Prop.CORRELATION_DATA, corr),
              ...users.map(([k, v]) => userProp(k, v)),
            ];
            await pub.send(
              publish5Packet({ topic, payload: '{"x":1}', qos: 1, packetId: 7, props }),
            );
            const ack = parseAck5(await pub.expectPacket("PUBACK"));
            assertEquals([ack.packetId, ack.reason], [7, 0], "PUBACK");
            const m = parsePublish5(await sub.expectPacket("PUBLISH"));
            assertEquals([m.topic, m.text, m.qos], [topic, '{"x":1}', 1], "message");
            assertEquals(userPropsOf(m.props), users, "user properties, in order, duplicates kept");
            assertEquals(propOf(m.props, Prop.PAYLOAD_FORMAT_INDICATOR), 1, "payload format");
            assertEquals(
              propOf(m.props, Prop.CONTENT_TYPE),
              "application/json; charset=utf-8",
              "content type",
            );
            assertEquals(propOf(m.props, Prop.RESPONSE_TOPIC), `${base}/reply/x`, "response topic");
            assertEquals(
              hex(propOf(m.props, Prop.CORRELATION_DATA) as Uint8Array),
              hex(corr),
              "correlation data",
            );
            assertEquals(
              propsOf(m.props, Prop.TOPIC_ALIAS),
              [],
              "no alias to a client without max",
            );
            assert(m.packetId !== null, "packet id");
            await sub.send(puback5Packet(m.packetId, 0));
            await sub.expectSilence("one copy only", QUIET_MS);
          } finally {
            await sub.close();
            await pub.close();
          }
        },
      );

      await t.step(
        "request/response between shards: response topic and correlation data reach the responder unchanged",
        async () => {
          const requester = await connect(b.url, { protocolVersion: 5, clientId: id(0, "rq") });
          const responder = await connect(b.url, { protocolVersion: 5, clientId: id(1, "rr") });
          try {
            const replyTo = `${base}/rr/reply/${tag}`;
            await subscribe(requester, replyTo, { qos: 1 });
            await subscribe(responder, `${base}/rr/request`, { qos: 1 });
            const corr = Buffer.from(`req-${tag}-1`);
            await publish(requester, `${base}/rr/request`, "2+2", {
              qos: 1,
              properties: {
                responseTopic: replyTo,
                correlationData: corr,
                contentType: "text/plain",
                userProperties: { trace: "t1" },
              },
            });
            const [req] = await collect(responder, 1, 5_000);
            const rp = req?.packet.properties;
            assertEquals(rp?.responseTopic, replyTo, "request's response topic");
            assertEquals(
              hex(rp?.correlationData ?? new Uint8Array()),
              hex(corr),
              "request's correlation data",
            );
            assertEquals(rp?.contentType, "text/plain", "request's content type");
            assertEquals(rp?.userProperties, { trace: "t1" }, "request's user property");
            await publish(responder, rp?.responseTopic ?? "missing", "4", {
              qos: 1,
              properties: { correlationData: rp?.correlationData ?? Buffer.alloc(0) },
            });
            const [reply] = await collect(requester, 1, 5_000);
            assertEquals([reply?.topic, reply?.payload], [replyTo, "4"], "reply");
            assertEquals(
              hex(reply?.packet.properties?.correlationData ?? new Uint8Array()),
              hex(corr),
              "reply's correlation data",
            );
          } finally {
            await closeAll([requester, responder]);
          }
        },
      );

      await t.step(
        "subscription identifiers: one copy carries every matching subscription's id [MQTT-3.3.4-3] [MQTT-3.3.4-4] [MQTT-3.8.4-3]",
        async () => {
          const plus = { topic: `${base}/sid/+`, qos: 1 as const };
          const sub = await rawSub([
            { ...plus, props: [prop(Prop.SUBSCRIPTION_IDENTIFIER, 1)] },
            { topic: `${base}/sid/#`, qos: 1, props: [prop(Prop.SUBSCRIPTION_IDENTIFIER, 2)] },
            { topic: `${base}/sid/plain/z`, qos: 1 },
          ]);
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "sp") });
          const expectIds = async (topic: string, ids: number[]) => {
            await publish(pub, topic, topic, { qos: 1 });
            const m = parsePublish5(await sub.expectPacket(`PUBLISH ${topic}`));
            assertEquals(m.topic, topic, "topic");
            const got = propsOf(m.props, Prop.SUBSCRIPTION_IDENTIFIER).map(Number);
            assertEquals(got.sort((x, y) => x - y), ids, `subscription identifiers on ${topic}`);
            if (m.packetId !== null) await sub.send(puback5Packet(m.packetId, 0));
            await sub.expectSilence(`a single copy of ${topic}`, 300);
          };
          try {
            await expectIds(`${base}/sid/a`, [1, 2]);
            await expectIds(`${base}/sid/a/b`, [2]);
            // The subscription without an identifier adds none [MQTT-3.3.4-4].
            await expectIds(`${base}/sid/plain/z`, [2]);
            // Re-subscribing replaces the subscription, identifier included [MQTT-3.8.4-3].
            await sub.send(subscribe5Packet(9, [plus], [prop(Prop.SUBSCRIPTION_IDENTIFIER, 3)]));
            assertEquals(parseSubAck5(await sub.expectPacket("SUBACK")).codes, [1], "re-sub");
            await expectIds(`${base}/sid/a`, [2, 3]);
            await expectIds(`${base}/sid/b`, [2, 3]);
          } finally {
            await sub.close();
            await closeAll([pub]);
          }
        },
      );

      await t.step(
        "subscription identifier 0 in SUBSCRIBE → DISCONNECT 0x82 Protocol Error (MQTT 5.0 3.8.2.1.2)",
        async () => {
          const { raw } = await openRaw5(b.port, { clientId: id(0, "s0") });
          try {
            await raw.send(
              subscribe5Packet(1, [{ topic: `${base}/sid0`, qos: 0 }], [
                prop(Prop.SUBSCRIPTION_IDENTIFIER, 0),
              ]),
            );
            const reason = await closeReason(raw, "SUBSCRIBE with subscription identifier 0");
            assertEquals(rc(reason), rc(Reason.PROTOCOL_ERROR), "DISCONNECT reason");
          } finally {
            await raw.close();
          }
        },
      );
    });
  });
}
