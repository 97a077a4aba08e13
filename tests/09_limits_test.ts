/**
 * Integration suite 09: configured bounds — the inflight window (mqtt.max_inflight), the queue of
 * an offline persistent session (mqtt.max_mqueue_len with mqueue_drop_policy drop_oldest), and a
 * listener's max_connections.
 *
 * Broker: --set mqtt.max_inflight=2 --set mqtt.max_mqueue_len=10
 *         --set mqtt.mqueue_drop_policy=drop_oldest --set listeners.tcp.default.max_connections=3
 * (EMQX names; Mosquitto's max_inflight_messages / max_queued_messages / max_connections when the
 * suite runs against Mosquitto, which drops the newest when its queue is full.)
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  type ConnectOptions,
  disconnect,
  drain,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import {
  parsePublish,
  parseSuback,
  pubackPacket,
  type Publish,
  RawClient,
  subscribePacket,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

const MAX_INFLIGHT = 2;
const MAX_MQUEUE_LEN = 10;
const MAX_CONNECTIONS = 3;
const SETS = [
  `mqtt.max_inflight=${MAX_INFLIGHT}`,
  `mqtt.max_mqueue_len=${MAX_MQUEUE_LEN}`,
  "mqtt.mqueue_drop_policy=drop_oldest",
  `listeners.tcp.default.max_connections=${MAX_CONNECTIONS}`,
];

/**
 * Connects, retrying for up to 5 s while the broker still counts connections that earlier steps
 * closed (a close reaches the listener's count asynchronously).
 */
async function connectRetrying(url: string, opts: ConnectOptions): Promise<MqttClient> {
  const deadline = Date.now() + 5_000;
  for (let attempt = 0;; attempt++) {
    try {
      return await connect(url, { ...opts, timeoutMs: 2_000 });
    } catch (e) {
      if (Date.now() > deadline || attempt > 50) throw e;
      await sleep(100);
    }
  }
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `09 limits: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards, sets: SETS }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t09/${tag}/v${v}`;

        await t.step(
          `v${v}: unacknowledged QoS 1 deliveries stop at max_inflight (${MAX_INFLIGHT})`,
          async () => {
            const subId = clientIdForShard(0, shards, `c09if${v}`);
            const topic = `${base}/inflight`;
            const pub = await connectRetrying(broker.url, {
              protocolVersion: v,
              clientId: clientIdForShard(1, shards, `c09ifp${v}`),
            });
            const { raw } = await RawClient.open(broker.port, { version: v, clientId: subId });
            try {
              await raw.send(subscribePacket(v, 1, [{ topic, qos: 1 }]));
              assertEquals(parseSuback(await raw.expectPacket("SUBACK"), v).codes, [1], "granted");
              for (let i = 0; i < 5; i++) await publish(pub, topic, `${i}`, { qos: 1 });
              const all: Publish[] = [];
              for (let i = 0; i < MAX_INFLIGHT; i++) {
                all.push(parsePublish(await raw.expectPacket(`PUBLISH ${i}`), v));
              }
              assertEquals(all.map((m) => m.payload), ["0", "1"], "the first window");
              await raw.expectSilence("no third PUBLISH while two are unacknowledged", 700);
              // Each PUBACK frees one slot, and the next queued message follows.
              for (let i = 0; i < 5; i++) {
                const m = all[i];
                assert(m && m.packetId !== null, `message ${i} with a packet id`);
                await raw.send(pubackPacket(m.packetId));
                if (all.length < 5) {
                  all.push(parsePublish(await raw.expectPacket(`PUBLISH ${all.length}`), v));
                }
              }
              assertEquals(all.map((m) => m.payload), ["0", "1", "2", "3", "4"], "in order");
              await raw.expectSilence("all five delivered once", 500);
            } finally {
              await raw.close();
              await closeAll([pub]);
            }
          },
        );

        await t.step(
          `v${v}: an offline session keeps at most max_inflight + max_mqueue_len, newest kept`,
          async () => {
            const subId = clientIdForShard(0, shards, `c09mq${v}`);
            const opts: ConnectOptions = v === 5
              ? {
                protocolVersion: 5,
                clientId: subId,
                clean: false,
                properties: { sessionExpiryInterval: 300 },
              }
              : { protocolVersion: 4, clientId: subId, clean: false };
            const topic = `${base}/mqueue`;
            const n = 30;
            let sub: MqttClient | null = await connectRetrying(broker.url, opts);
            let pub: MqttClient | null = null;
            try {
              await subscribe(sub, topic, { qos: 1 });
              await disconnect(sub);
              sub = null;
              pub = await connectRetrying(broker.url, {
                protocolVersion: v,
                clientId: clientIdForShard(1, shards, `c09mqp${v}`),
              });
              for (let i = 0; i < n; i++) await publish(pub, topic, `${i}`, { qos: 1 });
              await disconnect(pub);
              pub = null;
              sub = await connectRetrying(broker.url, opts);
              const got = (await drain(sub, 1_500)).map((m) => Number(m.payload));
              const bound = MAX_INFLIGHT + MAX_MQUEUE_LEN;
              assert(got.length > 0, "queued messages were delivered");
              assert(got.length <= bound, `at most ${bound} kept, got ${got.length}: ${got}`);
              assertEquals(
                got,
                [...got].sort((a, b) => a - b),
                "delivered in order, no duplicates",
              );
              assertEquals(new Set(got).size, got.length, "no duplicates");
              // drop_oldest: the newest max_mqueue_len messages survive.
              const newest = Array.from(
                { length: MAX_MQUEUE_LEN },
                (_, i) => n - MAX_MQUEUE_LEN + i,
              );
              assertEquals(
                got.filter((x) => x >= n - MAX_MQUEUE_LEN),
                newest,
                "the newest were kept",
              );
            } finally {
              await closeAll([sub, pub]);
              await disconnect(
                await connectRetrying(broker.url, {
                  protocolVersion: v,
                  clientId: subId,
                  clean: true,
                }),
              );
            }
          },
        );

        await t.step(
          `v${v}: listener max_connections (${MAX_CONNECTIONS}) refuses one more`,
          async () => {
            const held: MqttClient[] = [];
            try {
              for (let i = 0; i < MAX_CONNECTIONS; i++) {
                held.push(
                  await connectRetrying(broker.url, {
                    protocolVersion: v,
                    clientId: clientIdForShard(i, shards, `c09mc${v}x${i}`),
                  }),
                );
              }
              const extraId = clientIdForShard(MAX_CONNECTIONS, shards, `c09mc${v}extra`);
              await assertRejects(
                connect(broker.url, { protocolVersion: v, clientId: extraId, timeoutMs: 5_000 }),
                "a connection beyond max_connections",
              );
              // On the wire: the TCP connection is closed without any MQTT answer.
              const raw = await RawClient.connect(broker.port);
              try {
                await raw.expectClose("a connection beyond max_connections", { timeoutMs: 5_000 });
              } finally {
                await raw.close();
              }
              // A slot freed is a slot to use again.
              const first = held.shift();
              if (first) await disconnect(first);
              held.push(
                await connectRetrying(broker.url, { protocolVersion: v, clientId: extraId }),
              );
            } finally {
              await closeAll(held);
            }
          },
        );
      }
    });
  });
}
