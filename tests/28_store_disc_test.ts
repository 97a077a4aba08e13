/**
 * Integration suite 28: retained messages (`retainer.backend.storage_type: disc`), delayed
 * messages and bans kept in the durable store survive a restart of the broker process, a clean
 * one (SIGTERM) and a `kill -9`; `ram` keeps today's behaviour (nothing survives). Real broker
 * processes on one data directory, real clients (npm:mqtt, mosquitto_sub).
 *
 * Judged per MQTT 5.0 section 3.3.1.3 (a retained message is sent to a new subscription with
 * RETAIN 1 [MQTT-3.3.1-8]; an empty payload clears it [MQTT-3.3.1-6]), section 4.7.2 (`$` topics
 * are not matched by a leading wildcard [MQTT-4.7.2-1]) and EMQX's delayed publish and banned
 * list. Culex only: Mosquitto has no `retainer.backend`.
 */

import mqtt, { type MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { type BrokerHandle, brokerKind, startBroker } from "./_helpers/broker.ts";
import {
  closeAll,
  collect,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";

const IGNORE = brokerKind() === "mosquitto";
const SHARDS = 2;
const DISC = [
  "retainer.backend.storage_type=disc",
  // Above the 100,000 default: the large step stores 100,000 besides the others.
  "retainer.backend.max_retained_messages=200000",
  "flapping_detect.enable=true",
  "flapping_detect.max_count=2",
  "flapping_detect.window_time=1m",
  "flapping_detect.ban_time=5m",
];
/** Retained messages of the large restart step (QoS 0, one publisher). */
const MANY = 100_000;

/** CONNACK's reason code (MQTT 5) of a connection attempt. */
async function connackCode(url: string, clientId: string): Promise<number> {
  const c = mqtt.connect(url, {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no CONNACK")), 8000);
      c.once("connect", (p) => (clearTimeout(t), resolve(p.reasonCode ?? 0)));
      c.once("error", (e) => (clearTimeout(t), resolve(Number((e as { code?: number }).code))));
    });
  } finally {
    c.end(true);
  }
}

/** The retained messages a new subscription to `filter` gets, as "topic=payload", sorted. */
async function retainedOf(url: string, filter: string, n: number, id: string) {
  const c = await connect(url, { protocolVersion: 5, clientId: id });
  try {
    await subscribe(c, filter, { qos: 1 });
    const got = n > 0 ? await collect(c, n, 20_000) : [];
    await expectNone(c, 300);
    assert(got.every((m) => m.packet.retain), "RETAIN 1 on every retained delivery");
    return got.map((m) => `${m.topic}=${m.payload}`).sort();
  } finally {
    await disconnect(c);
  }
}

/** mosquitto_sub's view: `-C n` messages of `filter`, each as "topic payload". */
async function mosquittoSub(port: number, filter: string, n: number): Promise<string[]> {
  const out = await new Deno.Command("mosquitto_sub", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-t", filter, "-C", String(n), "-W", "20", "-v"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `mosquitto_sub: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").sort();
}

Deno.test({
  name: "28 store: retained (disc), delayed and bans survive restarts and kill -9",
  ignore: IGNORE,
}, async (t) => {
  const tag = runTag();
  const base = `t28/${tag}`;
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test28_" });
  const start = async (sets = DISC) => {
    const t0 = Date.now();
    const b = await startBroker({ shards: SHARDS, sets, dataDir });
    if (Deno.env.get("T28_DEBUG")) console.log(`started in ${Date.now() - t0} ms`);
    return b;
  };
  let broker: BrokerHandle = await start();
  const clients: MqttClient[] = [];
  try {
    await t.step(
      "disc retained survive a clean restart; a wildcard read gets only matches",
      async () => {
        const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28a${tag}` });
        clients.push(pub);
        for (let i = 0; i < 20; i++) {
          await publish(pub, `${base}/s/${i}/temp`, `t${i}`, { qos: 1, retain: true });
          await publish(pub, `${base}/s/${i}/hum`, `h${i}`, { qos: 1, retain: true });
        }
        await publish(pub, `${base}/s/0/temp`, "replaced", { qos: 1, retain: true });
        await publish(pub, `${base}/s/1/temp`, "", { qos: 1, retain: true }); // [MQTT-3.3.1-6]
        await publish(pub, `${base}/q0`, "at-most-once", { qos: 0, retain: true });
        await publish(pub, `${base}/barrier`, "b", { qos: 1, retain: true });
        await disconnect(pub);
        assert.deepEqual(await broker.stop(), 0);
        broker = await start();
        const temps = await retainedOf(broker.url, `${base}/s/+/temp`, 19, `s28a${tag}`);
        assert.deepEqual(temps.length, 19);
        assert(temps.includes(`${base}/s/0/temp=replaced`), "the replacement survived");
        assert(!temps.some((m) => m.startsWith(`${base}/s/1/temp=`)), "the clear survived");
        assert.deepEqual(await retainedOf(broker.url, `${base}/q0`, 1, `s28b${tag}`), [
          `${base}/q0=at-most-once`,
        ]);
        assert.deepEqual(
          await mosquittoSub(broker.port, `${base}/s/2/#`, 2),
          [`${base}/s/2/hum h2`, `${base}/s/2/temp t2`],
        );
      },
    );

    await t.step("an acknowledged retained message survives kill -9", async () => {
      const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28b${tag}` });
      clients.push(pub);
      for (let i = 0; i < 10; i++) {
        await publish(pub, `${base}/k/${i}`, `k${i}`, { qos: 1, retain: true });
      }
      await publish(pub, `${base}/k/0`, "", { qos: 2, retain: true }); // cleared, exactly once
      broker.kill();
      await broker.stop();
      broker = await start();
      const got = await retainedOf(broker.url, `${base}/k/#`, 9, `s28c${tag}`);
      assert.deepEqual(
        got,
        Array.from({ length: 9 }, (_, i) => `${base}/k/${i + 1}=k${i + 1}`).sort(),
      );
    });

    await t.step("a delayed message survives a restart and kill -9, and fires once", async () => {
      const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28d${tag}` });
      clients.push(pub);
      // PUBACK after the row is committed: a kill -9 right after it loses nothing.
      await publish(pub, `$delayed/20/${base}/d/1`, "one", { qos: 1 });
      await publish(pub, `$delayed/21/${base}/d/2`, "two", { qos: 1 });
      await disconnect(pub);
      broker.kill();
      await broker.stop();
      // Due 20 s after the publish: the restart (a few seconds here) ends before, and the
      // subscriber below is there when they fire. A message due during the downtime fires at
      // start (src/shard/shard_store_test.ts checks that without a clock race).
      broker = await start();
      assert.match(broker.logs(), /Loaded 2 delayed messages from the store/);
      const again = await connect(broker.url, { protocolVersion: 5, clientId: `s28e${tag}` });
      clients.push(again);
      await subscribe(again, `${base}/d/+`, { qos: 1 });
      const got = await collect(again, 2, 30_000);
      assert.deepEqual(got.map((m) => `${m.topic}=${m.payload}`).sort(), [
        `${base}/d/1=one`,
        `${base}/d/2=two`,
      ]);
      // Once: fired rows are deleted; another restart does not bring them back.
      await disconnect(again);
      assert.deepEqual(await broker.stop(), 0);
      broker = await start();
      const after = await connect(broker.url, { protocolVersion: 5, clientId: `s28f${tag}` });
      clients.push(after);
      await subscribe(after, `${base}/d/+`, { qos: 1 });
      await expectNone(after, 1500);
      await disconnect(after);
    });

    await t.step("a ban (flapping) survives a restart", async () => {
      const flap = `flap28${tag}`;
      for (let i = 0; i < 3; i++) assert.deepEqual(await connackCode(broker.url, flap), 0);
      assert.deepEqual(await connackCode(broker.url, flap), 0x8a);
      assert.deepEqual(await broker.stop(), 0);
      broker = await start();
      assert(/Loaded \d+ bans from the store/.test(broker.logs()), "the log says bans loaded");
      assert.deepEqual(await connackCode(broker.url, flap), 0x8a); // EMQX: 0x8A Banned
      assert.deepEqual(await connackCode(broker.url, `other28${tag}`), 0);
    });

    await t.step(`${MANY} retained messages survive a restart`, async () => {
      const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28m${tag}` });
      clients.push(pub);
      for (let i = 0; i < MANY; i++) {
        pub.publish(`${base}/m/${i % 100}/${i}`, `v${i}`, { qos: 0, retain: true });
        if (i % 5000 === 4999) await publish(pub, `${base}/mb`, String(i), { qos: 1 });
      }
      // QoS 1 retained after them from the same connection: acknowledged after its commit,
      // which follows theirs on the shard's port.
      await publish(pub, `${base}/m/last`, "last", { qos: 1, retain: true });
      await disconnect(pub);
      assert.deepEqual(await broker.stop(), 0);
      broker = await start();
      // A raw count (the inbox helpers would keep and print 100,000 messages).
      const sub = mqtt.connect(broker.url, {
        clientId: `s28m${tag}`,
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      const topics = new Set<string>();
      let retainFlags = 0;
      sub.on("message", (topic, _p, packet) => {
        topics.add(topic);
        if (packet.retain) retainFlags++;
      });
      try {
        await sub.subscribeAsync(`${base}/m/#`, { qos: 0 });
        const deadline = Date.now() + 60_000;
        while (topics.size < MANY + 1 && Date.now() < deadline) await sleep(100);
        assert.equal(topics.size, MANY + 1, "every retained topic after the restart");
        assert.equal(retainFlags, MANY + 1);
      } finally {
        sub.end(true);
      }
    });

    await t.step(
      "ram (the default) keeps retained and delayed messages in memory only",
      async () => {
        assert.deepEqual(await broker.stop(), 0);
        broker = await start([]);
        // The disc rows are still in the file, but a ram broker does not read them.
        assert.deepEqual(await retainedOf(broker.url, `${base}/s/+/temp`, 0, `s28r${tag}`), []);
        const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28r${tag}` });
        clients.push(pub);
        await publish(pub, `${base}/ram`, "mem", { qos: 1, retain: true });
        await disconnect(pub);
        assert.deepEqual(await retainedOf(broker.url, `${base}/ram`, 1, `s28s${tag}`), [
          `${base}/ram=mem`,
        ]);
        assert.deepEqual(await broker.stop(), 0);
        broker = await start([]);
        assert.deepEqual(await retainedOf(broker.url, `${base}/ram`, 0, `s28t${tag}`), []);
      },
    );
  } finally {
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
