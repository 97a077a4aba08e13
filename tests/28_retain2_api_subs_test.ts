/**
 * Integration suite 28 (retain2): subscriptions made and removed through the HTTP API
 * (`POST /clients/{clientid}/subscribe`, `/unsubscribe`, EMQX's paths) on a persistent session in
 * durable mode are stored like the client's own: after a restart the session still has them.
 * Real broker processes on one data directory, real clients (npm:mqtt), the API over HTTP with a
 * bootstrap API key. Judged per MQTT 5.0 section 4.1 (the session state, subscriptions included,
 * outlives the connection while the session has not expired [MQTT-4.1.0-1]) and EMQX's API.
 */

import assert from "node:assert/strict";
import { Api } from "./_helpers/api.ts";
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
const KEY = { key: "retain2-key", secret: "retain2-secret-0123" };

Deno.test({
  name: "28 retain2: API subscriptions of a persistent session survive a restart",
  ignore: IGNORE,
}, async () => {
  const tag = runTag();
  const base = `t28api/${tag}`;
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test28api_" });
  const keys = `${dataDir}/keys.txt`;
  await Deno.writeTextFile(keys, `${KEY.key}:${KEY.secret}\n`);
  const start = () =>
    startBroker({
      shards: 2,
      dataDir,
      listeners: ["http:dashboard"],
      sets: ["durable_sessions.enable=true", `api_key.bootstrap_file=${keys}`],
    });
  const id = `c28api${tag}`;
  const opts = {
    protocolVersion: 5 as const,
    clientId: id,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
  };
  let broker: BrokerHandle = await start();
  const clients: MqttClient[] = [];
  try {
    let api = new Api(broker.portOf("http:dashboard"));
    api.defaultAs = KEY;
    const c = await connect(broker.url, opts);
    clients.push(c);
    await subscribe(c, `${base}/own`, { qos: 1 });
    let r = await api.post(`/clients/${id}/subscribe`, { topic: `${base}/api`, qos: 1 });
    assert.equal(r.status, 200, r.text);
    r = await api.post(`/clients/${id}/unsubscribe`, { topic: `${base}/own` });
    assert.equal(r.status, 204, r.text);
    await disconnect(c);
    assert.equal(await broker.stop(), 0);

    broker = await start();
    api = new Api(broker.portOf("http:dashboard"));
    api.defaultAs = KEY;
    const again = await connect(broker.url, opts);
    clients.push(again);
    assert.equal(connackOf(again).sessionPresent, true, "the session was loaded");
    r = await api.get(`/clients/${id}/subscriptions`);
    assert.equal(r.status, 200, r.text);
    const topics = (r.json as { topic: string; qos: number }[]).map((s) => `${s.topic}@${s.qos}`);
    assert.deepEqual(topics, [`${base}/api@1`], "the API's subscribe and unsubscribe were kept");
    const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28api${tag}` });
    clients.push(pub);
    await publish(pub, `${base}/own`, "gone", { qos: 1 });
    await publish(pub, `${base}/api`, "kept", { qos: 1 });
    const [m] = await collect(again, 1, 10_000);
    assert.equal(`${m!.topic}=${m!.payload}`, `${base}/api=kept`);
    await expectNone(again, 300);
  } finally {
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
