/**
 * Integration suite 06: Will messages — published on an abnormal close, on a keepalive timeout
 * and on a protocol error; not published after DISCONNECT; Will QoS and Will Retain honoured.
 *
 * The will-carrying connection is a raw client (its close is exactly what the test says); the
 * subscriber is npm:mqtt on another shard. Judged per MQTT 3.1.1 section 3.1.2.5 and MQTT 5.0
 * section 3.1.2.5.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
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
} from "./_helpers/clients.ts";
import { DISCONNECT, publishPacket, RawClient } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

/** Keepalive of the silent client, seconds; the broker must drop it after 1.5 × this. */
const KEEPALIVE_S = 1;
/** Slack on top of 1.5 × keepalive for the broker's timer granularity and the delivery. */
const KEEPALIVE_SLACK_MS = 2_500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `06 will: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      let seq = 0;
      for (const v of VERSIONS) {
        const base = `t06/${tag}/v${v}`;
        const subscriber = async (filter: string): Promise<MqttClient> => {
          const c = await connect(broker.url, {
            protocolVersion: v,
            clientId: clientIdForShard(0, shards, `c06s${v}x${seq++}`),
          });
          await subscribe(c, filter, { qos: 2 });
          return c;
        };
        const willId = () => clientIdForShard(1, shards, `c06w${v}x${seq++}`);

        await t.step(`v${v}: will published when the socket drops [MQTT-3.1.2-8]`, async () => {
          const topic = `${base}/drop`;
          const sub = await subscriber(topic);
          try {
            const { raw } = await RawClient.open(broker.port, {
              version: v,
              clientId: willId(),
              will: { topic, payload: "dropped", qos: 1 },
            });
            await raw.close();
            const got = await collect(sub, 1, 5_000);
            // Delivered at min(will QoS 1, subscription QoS 2), as a live message (RETAIN 0).
            assertEquals(
              got.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.retain]),
              [[topic, "dropped", 1, false]],
              "will message",
            );
            await expectNone(sub, 500);
          } finally {
            await closeAll([sub]);
          }
        });

        await t.step(
          `v${v}: will published on keepalive timeout (1.5 × keepalive) [MQTT-3.1.2-24]`,
          async () => {
            const topic = `${base}/keepalive`;
            const sub = await subscriber(topic);
            try {
              const { raw } = await RawClient.open(broker.port, {
                version: v,
                clientId: willId(),
                keepalive: KEEPALIVE_S,
                will: { topic, payload: "silent", qos: 2 },
              });
              const start = Date.now();
              const bound = 1.5 * KEEPALIVE_S * 1000 + KEEPALIVE_SLACK_MS;
              try {
                // The raw client now sends nothing at all. 5.0 allows DISCONNECT 0x8D first.
                const closed = raw.expectClose("keepalive timeout", {
                  timeoutMs: bound,
                  allow: () => v === 5,
                }).then(() => null, (e: Error) => e);
                const got = await collect(sub, 1, bound);
                const elapsed = Date.now() - start;
                const notClosed = await closed;
                if (notClosed) throw notClosed;
                assertEquals(
                  got.map((m) => [m.payload, m.packet.qos]),
                  [["silent", 2]],
                  "will message",
                );
                // Not before the keepalive itself ran out (the spec allows 1.5 × keepalive).
                assert(
                  elapsed >= KEEPALIVE_S * 1000,
                  `will after ${elapsed} ms, before the keepalive ran out`,
                );
              } finally {
                await raw.close();
              }
            } finally {
              await closeAll([sub]);
            }
          },
        );

        await t.step(
          `v${v}: will published when the server closes on a protocol error`,
          async () => {
            // 3.1.1 3.1.2.5: "The Server closes the Network Connection because of a protocol error."
            const topic = `${base}/protoerr`;
            const sub = await subscriber(topic);
            try {
              const { raw } = await RawClient.open(broker.port, {
                version: v,
                clientId: willId(),
                will: { topic, payload: "violated", qos: 1 },
              });
              try {
                await raw.send(publishPacket({ version: v, topic: `${base}/+`, payload: "x" }));
                await raw.expectClose("PUBLISH with a wildcard topic", { allow: () => v === 5 });
              } finally {
                await raw.close();
              }
              const got = await collect(sub, 1, 5_000);
              assertEquals(got.map((m) => m.payload), ["violated"], "will message");
            } finally {
              await closeAll([sub]);
            }
          },
        );

        await t.step(
          `v${v}: no will after DISCONNECT [MQTT-3.1.2-10] [MQTT-3.14.4-3]`,
          async () => {
            const topic = `${base}/clean`;
            const sub = await subscriber(topic);
            try {
              const { raw } = await RawClient.open(broker.port, {
                version: v,
                clientId: willId(),
                will: { topic, payload: "must not appear", qos: 1 },
              });
              await raw.send(DISCONNECT);
              await raw.expectClose("after DISCONNECT", { timeoutMs: 3_000 }).catch(() => {});
              await raw.close();
              await expectNone(sub, 1_500);
            } finally {
              await closeAll([sub]);
            }
          },
        );

        await t.step(`v${v}: will retain flag honoured [MQTT-3.1.2-17]`, async () => {
          const topic = `${base}/retained`;
          const live = await subscriber(topic);
          let later: MqttClient | null = null;
          try {
            const { raw } = await RawClient.open(broker.port, {
              version: v,
              clientId: willId(),
              will: { topic, payload: "last words", qos: 1, retain: true },
            });
            await raw.close();
            const now = await collect(live, 1, 5_000);
            assertEquals(
              now.map((m) => [m.payload, m.packet.retain]),
              [["last words", false]],
              "live copy",
            );
            later = await subscriber(topic);
            const stored = await collect(later, 1, 5_000);
            assertEquals(
              stored.map((m) => [m.payload, m.packet.retain]),
              [["last words", true]],
              "stored as a retained message",
            );
            await publish(later, topic, "", { qos: 1, retain: true });
          } finally {
            await closeAll([live, later]);
          }
        });

        await t.step(`v${v}: will without retain is not stored [MQTT-3.1.2-16]`, async () => {
          const topic = `${base}/notretained`;
          const live = await subscriber(topic);
          try {
            const { raw } = await RawClient.open(broker.port, {
              version: v,
              clientId: willId(),
              will: { topic, payload: "once", qos: 0 },
            });
            await raw.close();
            const now = await collect(live, 1, 5_000);
            assertEquals(now.map((m) => [m.payload, m.packet.qos]), [["once", 0]], "live copy");
            const later = await subscriber(topic);
            try {
              await expectNone(later, 500);
            } finally {
              await disconnect(later);
            }
          } finally {
            await closeAll([live]);
          }
        });
      }
    });
  });
}
