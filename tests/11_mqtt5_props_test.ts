/**
 * Integration suite 11 (properties): MQTT 5.0 message properties end to end across shards —
 * user properties (order and duplicate keys kept), payload format indicator, content type,
 * response topic, correlation data, request/response, subscription identifiers, no local, retain
 * as published, retain handling 0/1/2, the client's Maximum Packet Size, and the forwarded Message
 * Expiry Interval. Topic aliases are in 12_mqtt5_alias_test.ts.
 *
 * Broker: defaults. Judged per MQTT 5.0 sections 3.1.2.11, 3.3.2.3, 3.3.4, 3.8.3.1 and 4.13.
 */

import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  closeReason,
  openRaw5,
  parseAck5,
  parsePublish5,
  parseSubAck5,
  Prop,
  prop,
  type Property,
  propOf,
  propsOf,
  puback5Packet,
  publish5Packet,
  rc,
  Reason,
  subscribe5Packet,
  type Subscription5,
  userProp,
  userPropsOf,
} from "./_helpers/mqtt5.ts";
import { hex, type RawClient } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

const QUIET_MS = 500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `11 mqtt5 props: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t11/${tag}`;
    await withBroker({ shards }, async (b) => {
      let seq = 0;
      /** A fresh client id on the given shard. */
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c11${p}${seq++}`);

      /** A raw v5 subscriber on shard 0; each filter is subscribed in its own SUBSCRIBE. */
      async function rawSub(
        filters: readonly (Subscription5 & { props?: Property[] })[],
        connectProps: Property[] = [],
      ): Promise<RawClient> {
        const { raw } = await openRaw5(b.port, { clientId: id(0, "rs"), props: connectProps });
        let pid = 1;
        for (const f of filters) {
          await raw.send(subscribe5Packet(pid, [f], f.props ?? []));
          const ack = parseSubAck5(await raw.expectPacket(`SUBACK for ${f.topic}`));
          assertEquals([ack.packetId, ack.codes], [pid, [f.qos]], `SUBACK for ${f.topic}`);
          pid++;
        }
        return raw;
      }

      /** A raw v5 publisher on shard 1. */
      async function rawPub(): Promise<RawClient> {
        return (await openRaw5(b.port, { clientId: id(1, "rp") })).raw;
      }

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

      await t.step(
        "no local: own messages not echoed, others' delivered [MQTT-3.8.3-3]",
        async () => {
          const c = await connect(b.url, { protocolVersion: 5, clientId: id(0, "nl") });
          const other = await connect(b.url, { protocolVersion: 5, clientId: id(1, "no") });
          try {
            await subscribe(c, `${base}/nl/on`, { qos: 1, nl: true });
            await subscribe(c, `${base}/nl/off`, { qos: 1, nl: false });
            await publish(c, `${base}/nl/on`, "own-on", { qos: 1 });
            await publish(c, `${base}/nl/off`, "own-off", { qos: 1 });
            await publish(other, `${base}/nl/on`, "other-on", { qos: 1 });
            const got = await collect(c, 2, 5_000);
            assertEquals(
              got.map((m) => m.payload).sort(),
              ["other-on", "own-off"],
              "only the no-local echo is suppressed",
            );
            await expectNone(c, QUIET_MS);
          } finally {
            await closeAll([c, other]);
          }
        },
      );

      await t.step(
        "retain as published keeps RETAIN on live delivery; without it RETAIN is 0 [MQTT-3.3.1-12] [MQTT-3.3.1-13]",
        async () => {
          const c = await connect(b.url, { protocolVersion: 5, clientId: id(0, "ra") });
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "rp") });
          try {
            await subscribe(c, `${base}/rap/1`, { qos: 1, rap: true, rh: 2 });
            await subscribe(c, `${base}/rap/0`, { qos: 1, rap: false, rh: 2 });
            await publish(pub, `${base}/rap/1`, "kept", { qos: 1, retain: true });
            const [m1] = await collect(c, 1, 5_000);
            await publish(pub, `${base}/rap/0`, "cleared", { qos: 1, retain: true });
            const [m0] = await collect(c, 1, 5_000);
            assertEquals([m1?.payload, m1?.packet.retain], ["kept", true], "rap=1");
            assertEquals([m0?.payload, m0?.packet.retain], ["cleared", false], "rap=0");
            for (const x of ["1", "0"]) {
              await publish(pub, `${base}/rap/${x}`, "", { qos: 1, retain: true });
            }
          } finally {
            await closeAll([c, pub]);
          }
        },
      );

      await t.step(
        "retain handling 0 (always), 1 (new subscriptions only), 2 (never) [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]",
        async () => {
          const topic = `${base}/rh/t`;
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "hp") });
          const c = await connect(b.url, { protocolVersion: 5, clientId: id(0, "hc") });
          try {
            await publish(pub, topic, "stored", { qos: 1, retain: true });
            const expectRetained = async (what: string) => {
              const got = await collect(c, 1, 5_000);
              assertEquals(
                got.map((m) => [m.topic, m.payload, m.packet.retain]),
                [[topic, "stored", true]],
                what,
              );
              await expectNone(c, 300);
            };
            await subscribe(c, topic, { qos: 1, rh: 0 });
            await expectRetained("rh=0, new subscription");
            await subscribe(c, topic, { qos: 1, rh: 0 });
            await expectRetained("rh=0, existing subscription: sent again");
            await subscribe(c, `${base}/rh/+`, { qos: 1, rh: 1 });
            await expectRetained("rh=1, new subscription");
            await subscribe(c, `${base}/rh/+`, { qos: 1, rh: 1 });
            await expectNone(c, QUIET_MS); // rh=1, existing subscription: not sent
            await subscribe(c, `${base}/rh/#`, { qos: 1, rh: 2 });
            await expectNone(c, QUIET_MS); // rh=2: never sent at subscribe
            await publish(pub, topic, "", { qos: 1, retain: true });
          } finally {
            await closeAll([c, pub]);
          }
        },
      );

      await t.step(
        "a message over the client's Maximum Packet Size is dropped for it alone and counts as sent [MQTT-3.1.2-24] [MQTT-3.1.2-25]",
        async () => {
          const topic = `${base}/mps`;
          // Receive Maximum 1: if the dropped QoS 1 message stayed in flight, nothing would follow.
          const small = await rawSub([{ topic, qos: 1 }], [
            prop(Prop.MAXIMUM_PACKET_SIZE, 100),
            prop(Prop.RECEIVE_MAXIMUM, 1),
          ]);
          const big = await connect(b.url, { protocolVersion: 5, clientId: id(2, "mb") });
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "mp") });
          try {
            await subscribe(big, topic, { qos: 1 });
            await publish(pub, topic, "x".repeat(500), { qos: 1 });
            await publish(pub, topic, "small", { qos: 1 });
            const m = parsePublish5(await small.expectPacket("PUBLISH"));
            assertEquals(m.text, "small", "the small message is the only one delivered");
            await small.expectSilence("nothing else", QUIET_MS);
            const got = await collect(big, 2, 5_000);
            assertEquals(got.map((x) => x.payload.length), [500, 5], "others receive both");
          } finally {
            await small.close();
            await closeAll([big, pub]);
          }
        },
      );

      await t.step(
        "message expiry on live delivery: the interval is forwarded, 0 < value ≤ sent [MQTT-3.3.2-6]",
        async () => {
          const sub = await connect(b.url, { protocolVersion: 5, clientId: id(0, "ms") });
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "mp") });
          try {
            await subscribe(sub, `${base}/mei`, { qos: 1 });
            await publish(pub, `${base}/mei`, "m", {
              qos: 1,
              properties: { messageExpiryInterval: 60 },
            });
            const [m] = await collect(sub, 1, 5_000);
            const mei = m?.packet.properties?.messageExpiryInterval ?? -1;
            assert(mei > 0 && mei <= 60, `message expiry interval ${mei} in (0, 60]`);
          } finally {
            await closeAll([sub, pub]);
          }
        },
      );
    });
  });
}
