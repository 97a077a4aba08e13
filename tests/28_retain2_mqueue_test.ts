/**
 * Integration suite 28 (retain2): the disk offline queue of a persistent session in durable mode
 * honours `mqtt.mqueue_drop_policy: drop_oldest` (the default, as EMQX's mqueue): when
 * `mqtt.max_mqueue_len` messages wait, a new one replaces the oldest, before and after a restart
 * of the broker. Real broker processes on one data directory, real clients (npm:mqtt). Judged per
 * MQTT 5.0 section 4.1 (the session state keeps the queued QoS 1/2 messages while the client is
 * offline [MQTT-4.1.0-1]) and section 4.6 (the ones delivered keep their order [MQTT-4.6.0-6]).
 */

import assert from "node:assert/strict";
import { type BrokerHandle, brokerKind, startBroker } from "./_helpers/broker.ts";
import {
  closeAll,
  collect,
  connackOf,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import type { MqttClient } from "mqtt";

const IGNORE = brokerKind() === "mosquitto";
const MAX = 5;

Deno.test({
  name: "28 retain2: a full disk queue drops its oldest message (mqueue_drop_policy)",
  ignore: IGNORE,
}, async () => {
  const tag = runTag();
  const topic = `t28mq/${tag}`;
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test28mq_" });
  const start = () =>
    startBroker({
      shards: 2,
      dataDir,
      sets: ["durable_sessions.enable=true", `mqtt.max_mqueue_len=${MAX}`],
    });
  const opts = {
    protocolVersion: 5 as const,
    clientId: `s28mq${tag}`,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
  };
  let broker: BrokerHandle = await start();
  const clients: MqttClient[] = [];
  const publishAll = async (from: number, to: number) => {
    const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28mq${tag}${from}` });
    clients.push(pub);
    for (let i = from; i <= to; i++) await publish(pub, topic, `m${i}`, { qos: 1 });
    await disconnect(pub);
  };
  try {
    const sub = await connect(broker.url, opts);
    clients.push(sub);
    await subscribe(sub, topic, { qos: 1 });
    await disconnect(sub);
    await publishAll(1, 8); // 1-3 dropped, 4-8 kept
    assert.equal(await broker.stop(), 0);
    broker = await start();
    await publishAll(9, 11); // loaded from disk, still full: 4-6 dropped
    const again = await connect(broker.url, opts);
    clients.push(again);
    assert.equal(connackOf(again).sessionPresent, true);
    const got = await collect(again, MAX, 10_000);
    assert.deepEqual(got.map((m) => m.payload), ["m7", "m8", "m9", "m10", "m11"]);
    await expectNone(again, 300);
  } finally {
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
