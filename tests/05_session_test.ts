/**
 * Integration suite 05: sessions — persistent sessions (clean session 0 / clean start 0 with a
 * session expiry), clean sessions and session takeover. Redelivery with DUP and issue #2's
 * mosquitto_sub scenario: 05_session_dup_test.ts.
 *
 * Judged per MQTT 3.1.1 sections 3.1.2.4, 3.1.4 and 4.1 and MQTT 5.0 sections 3.1.2.4 and 3.1.4.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connackOf,
  connect,
  disconnect,
  disconnectOf,
  expectNone,
  isClosed,
  publish,
  runTag,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";
import { clean, discardSession, persistent } from "./_helpers/sessions.ts";

const QUIET_MS = 500;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `05 session: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t05/${tag}/v${v}`;

        await t.step(
          `v${v}: a persistent session keeps subscriptions and queues QoS 1/2 [MQTT-3.1.2-5]`,
          async () => {
            const subId = clientIdForShard(0, shards, `c05ps${v}`);
            const pubId = clientIdForShard(1, shards, `c05psp${v}`);
            let sub: MqttClient | null = await connect(broker.url, persistent(v, subId));
            const pub = await connect(broker.url, { protocolVersion: v, clientId: pubId });
            try {
              assertEquals(connackOf(sub).sessionPresent, false, "first CONNACK: no session yet");
              await subscribe(sub, `${base}/ps/#`, { qos: 2 });
              await disconnect(sub);
              sub = null;
              const sent: string[] = [];
              for (let i = 0; i < 3; i++) {
                for (const qos of [1, 2] as const) {
                  const payload = `q${qos}-${i}`;
                  await publish(pub, `${base}/ps/q${qos}`, payload, { qos });
                  sent.push(payload);
                }
              }
              sub = await connect(broker.url, persistent(v, subId));
              // [MQTT-3.2.2-2] the server has the session → Session Present 1.
              assertEquals(connackOf(sub).sessionPresent, true, "CONNACK session present");
              const got = await collect(sub, sent.length, 10_000);
              await expectNone(sub, QUIET_MS);
              assertEquals(got.map((m) => m.payload).sort(), [...sent].sort(), "queued, each once");
              for (const qos of [1, 2]) {
                const own = got.filter((m) => m.topic === `${base}/ps/q${qos}`);
                assertEquals(
                  own.map((m) => m.packet.qos),
                  [qos, qos, qos],
                  `QoS of q${qos} messages`,
                );
                assertEquals(
                  own.map((m) => m.payload),
                  [0, 1, 2].map((i) => `q${qos}-${i}`),
                  `order on ${base}/ps/q${qos} [MQTT-4.6.0-6]`,
                );
              }
              // The subscription itself survived: a live message arrives without re-subscribing.
              await publish(pub, `${base}/ps/live`, "live", { qos: 1 });
              assertEquals((await collect(sub, 1, 5_000)).map((m) => m.payload), ["live"], "live");
            } finally {
              await closeAll([sub, pub]);
              await discardSession(broker.url, v, subId);
            }
          },
        );

        await t.step(
          `v${v}: a clean session discards the previous one [MQTT-3.1.2-6]`,
          async () => {
            const subId = clientIdForShard(0, shards, `c05cs${v}`);
            const pubId = clientIdForShard(1, shards, `c05csp${v}`);
            const first = await connect(broker.url, persistent(v, subId));
            await subscribe(first, `${base}/cs`, { qos: 1 });
            await disconnect(first);
            const wiped = await connect(broker.url, clean(v, subId));
            // [MQTT-3.2.2-1] clean session → Session Present 0.
            assertEquals(connackOf(wiped).sessionPresent, false, "clean CONNACK session present");
            await disconnect(wiped);
            const pub = await connect(broker.url, { protocolVersion: v, clientId: pubId });
            let back: MqttClient | null = null;
            try {
              await publish(pub, `${base}/cs`, "nobody", { qos: 1 });
              back = await connect(broker.url, persistent(v, subId));
              assertEquals(connackOf(back).sessionPresent, false, "no session left to resume");
              await publish(pub, `${base}/cs`, "still nobody", { qos: 1 });
              await expectNone(back, QUIET_MS * 2);
            } finally {
              await closeAll([back, pub]);
              await discardSession(broker.url, v, subId);
            }
          },
        );

        await t.step(
          `v${v}: a second connection with the same id takes over [MQTT-3.1.4-2]`,
          async () => {
            const id = clientIdForShard(0, shards, `c05to${v}`);
            const pubId = clientIdForShard(1, shards, `c05top${v}`);
            const a = await connect(broker.url, persistent(v, id));
            let b: MqttClient | null = null;
            const pub = await connect(broker.url, { protocolVersion: v, clientId: pubId });
            try {
              await subscribe(a, `${base}/to`, { qos: 1 });
              b = await connect(broker.url, persistent(v, id));
              await waitClosed(a, 5_000);
              assert(isClosed(a), "the first connection is closed");
              if (v === 5) {
                // 5.0: the server may send DISCONNECT 0x8E Session taken over first.
                const d = disconnectOf(a);
                if (d) assertEquals(d.reasonCode, 0x8e, "DISCONNECT reason");
              }
              assertEquals(
                connackOf(b).sessionPresent,
                true,
                "the new connection resumes the session",
              );
              await publish(pub, `${base}/to`, "to the new one", { qos: 1 });
              const got = await collect(b, 1, 5_000);
              assertEquals(
                got.map((m) => m.payload),
                ["to the new one"],
                "delivered to the new one",
              );
            } finally {
              await closeAll([a, b, pub]);
              await discardSession(broker.url, v, id);
            }
          },
        );
      }
    });
  });
}
