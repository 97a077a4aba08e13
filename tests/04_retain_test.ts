/**
 * Integration suite 04: retained messages — set, replace, clear, delivery on subscribe with the
 * RETAIN flag, wildcard subscriptions over topics owned by different shards, and the RETAIN flag
 * of live deliveries.
 *
 * Judged per MQTT 3.1.1 section 3.3.1.3 and MQTT 5.0 section 3.3.1.3.
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  subscribe,
  topicForShard,
} from "./_helpers/clients.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

const QUIET_MS = 500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `04 retain: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      let seq = 0;
      /** A fresh client on the given shard. */
      const client = (shard: number, v: 4 | 5): Promise<MqttClient> =>
        connect(broker.url, {
          protocolVersion: v,
          clientId: clientIdForShard(shard, shards, `c04n${v}x${seq++}`),
        });
      /** Subscribes a fresh client and returns what it received within the quiet period. */
      async function retainedSeenBy(
        v: 4 | 5,
        filter: string,
        expected: number,
        shard = 0,
      ): Promise<{ topic: string; payload: string; retain: boolean; qos: number }[]> {
        const c = await client(shard, v);
        try {
          await subscribe(c, filter, { qos: 2 });
          const got = expected > 0 ? await collect(c, expected, 5_000) : [];
          await expectNone(c, QUIET_MS);
          return got.map((m) => ({
            topic: m.topic,
            payload: m.payload,
            retain: m.packet.retain,
            qos: m.packet.qos,
          }));
        } finally {
          await disconnect(c);
        }
      }

      for (const v of VERSIONS) {
        const base = `t04/${tag}/v${v}`;

        await t.step(
          `v${v}: set, replace and clear a retained message [MQTT-3.3.1-5] [MQTT-3.3.1-10]`,
          async () => {
            const topic = `${base}/src`;
            const pub = await client(1, v);
            try {
              await publish(pub, topic, "r1", { qos: 1, retain: true });
              // Delivered on subscribe with RETAIN 1 [MQTT-3.3.1-6] [MQTT-3.3.1-8].
              assertEquals(
                await retainedSeenBy(v, topic, 1),
                [{ topic, payload: "r1", retain: true, qos: 1 }],
                "after set",
              );
              await publish(pub, topic, "r2", { qos: 1, retain: true });
              assertEquals(
                (await retainedSeenBy(v, topic, 1, shards - 1)).map((m) => [m.payload, m.retain]),
                [["r2", true]],
                "after replace: only the newest",
              );
              // A non-retained publish neither stores nor replaces [MQTT-3.3.1-12 (3.1.1)].
              await publish(pub, topic, "live", { qos: 1, retain: false });
              assertEquals(
                (await retainedSeenBy(v, topic, 1)).map((m) => m.payload),
                ["r2"],
                "a non-retained publish leaves the retained message",
              );
              await publish(pub, topic, "", { qos: 1, retain: true });
              assertEquals(await retainedSeenBy(v, topic, 0), [], "after clear with empty payload");
            } finally {
              await closeAll([pub]);
            }
          },
        );

        await t.step(
          `v${v}: retained QoS is kept and downgraded to the subscription's`,
          async () => {
            const topic = `${base}/qos`;
            const pub = await client(1, v);
            const sub0 = await client(0, v);
            try {
              await publish(pub, topic, "q2", { qos: 2, retain: true });
              await subscribe(sub0, topic, { qos: 0 });
              const [m0] = await collect(sub0, 1, 5_000);
              assertEquals(
                [m0?.payload, m0?.packet.qos, m0?.packet.retain],
                ["q2", 0, true],
                "QoS 0 sub",
              );
              assertEquals(
                (await retainedSeenBy(v, topic, 1)).map((m) => [m.payload, m.qos, m.retain]),
                [["q2", 2, true]],
                "QoS 2 subscription gets the stored QoS 2",
              );
              await publish(pub, topic, "", { qos: 1, retain: true });
            } finally {
              await closeAll([pub, sub0]);
            }
          },
        );

        await t.step(
          `v${v}: a wildcard subscription gets retained messages from every shard`,
          async () => {
            const pub = await client(1, v);
            // Topics that hash to each shard (the design gives a retained topic to the shard its
            // name hashes to); with 1 shard they are simply four topics.
            const topics = [0, 1, 2, 3].map((i) => topicForShard(i, shards, `${base}/w/k${i}n`));
            try {
              for (const [i, topic] of topics.entries()) {
                await publish(pub, topic, `w${i}`, { qos: 1, retain: true });
              }
              await publish(pub, `${base}/w2/x/deep`, "deep", { qos: 1, retain: true });
              for (const filter of [`${base}/w/#`, `${base}/w/+`]) {
                const got = await retainedSeenBy(v, filter, topics.length);
                assertEquals(
                  got.map((m) => `${m.topic}=${m.payload}:${m.retain}`).sort(),
                  topics.map((tp, i) => `${tp}=w${i}:true`).sort(),
                  `retained messages for ${filter}`,
                );
              }
              const deep = await retainedSeenBy(v, `${base}/+/x/#`, 1, shards - 1);
              assertEquals(deep.map((m) => m.payload), ["deep"], "'+' and '#' in one filter");
              for (const topic of [...topics, `${base}/w2/x/deep`]) {
                await publish(pub, topic, "", { qos: 1, retain: true });
              }
              assertEquals(await retainedSeenBy(v, `${base}/#`, 0), [], "all cleared");
            } finally {
              await closeAll([pub]);
            }
          },
        );

        await t.step(`v${v}: live deliveries carry RETAIN 0 [MQTT-3.3.1-9]`, async () => {
          // 3.1.1: RETAIN is 0 for a message matching an established subscription. 5.0: the
          // same unless the subscription asked for Retain As Published [MQTT-3.3.1-12 (5.0)].
          const topic = `${base}/live`;
          const sub = await client(0, v);
          const pub = await client(1, v);
          try {
            await subscribe(sub, topic, { qos: 1 });
            await publish(pub, topic, "retained-live", { qos: 1, retain: true });
            const [m] = await collect(sub, 1, 5_000);
            assertEquals([m?.payload, m?.packet.retain], ["retained-live", false], "live delivery");
            // Clearing is delivered as a normal message to existing subscribers [MQTT-3.3.1-10].
            await publish(pub, topic, "", { qos: 1, retain: true });
            const [c] = await collect(sub, 1, 5_000);
            assertEquals([c?.payload, c?.packet.retain], ["", false], "the clearing publish");
          } finally {
            await closeAll([sub, pub]);
          }
        });

        await t.step(
          `v${v}: retained messages outlive the publisher's session [MQTT-3.1.2-7]`,
          async () => {
            const topic = `${base}/outlive`;
            const pub = await client(1, v);
            await publish(pub, topic, "still here", { qos: 1, retain: true });
            await disconnect(pub);
            const got = await retainedSeenBy(v, topic, 1, shards - 1);
            assertEquals(got.map((m) => [m.payload, m.retain]), [["still here", true]], "retained");
            const clear = await client(2, v);
            try {
              await publish(clear, topic, "", { qos: 1, retain: true });
            } finally {
              await closeAll([clear]);
            }
          },
        );
      }
    });
  });
}
