/**
 * Integration suite 11 (delivery): what MQTT 5.0 subscription options and limits do to a delivery
 * across shards — no local, retain as published, retain handling 0/1/2, the client's Maximum
 * Packet Size, and the forwarded Message Expiry Interval. Message properties themselves:
 * 11_mqtt5_props_test.ts.
 *
 * Broker: defaults. Judged per MQTT 5.0 sections 3.1.2.11, 3.3.2.3, 3.8.3.1 and 4.13.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  closeAll,
  collect,
  connect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import { parsePublish5, Prop, prop } from "./_helpers/mqtt5.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";
import { raw5Clients } from "./_helpers/raw5_clients.ts";

const QUIET_MS = 500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `11 mqtt5 delivery: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t11/${tag}`;
    await withBroker({ shards }, async (b) => {
      const { id, rawSub } = raw5Clients(b.port, shards, "c11");

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
