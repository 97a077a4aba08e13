/**
 * Security on the wire, broker level (limits): banned client ids and flapping clients refused
 * 0x8A, a dead Redis authenticator beside working built-in users, `messages_rate` and
 * `bytes_rate` slowing a publisher without dropping. Passwords and ACLs:
 * 19_auth_broker_test.ts. The cases marked `ignore: WIRING` need the hooks wiring (lead) in
 * src/shard/ and src/supervisor/ and are enabled with it. Each case starts its own broker.
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker } from "./_helpers/broker.ts";
import { closeAll, collect, connect, subscribe } from "./_helpers/clients.ts";
import { startRedis } from "./_helpers/servers/redis.ts";
import { configDir, connackCode, USERS_CSV, WIRING } from "./_helpers/auth_broker.ts";

Deno.test({
  name: "banned client ids (bootstrap file) and flapping clients get CONNACK 0x8A",
  ignore: WIRING, // needs the hooks wiring (lead)
  fn: async () => {
    const yaml =
      "banned:\n  bootstrap_file: $DIR/banned.csv\nflapping_detect:\n  enable: true\n  max_count: 2\n  window_time: 1m\n  ban_time: 1m\n";
    const { dir, file } = await configDir(yaml, {
      "banned.csv": "as,who,reason\nclientid,evil,test\n",
    });
    const broker = await startBroker({ configFile: file });
    try {
      assert.equal(await connackCode(broker.url, { protocolVersion: 5, clientId: "evil" }), 0x8a);
      assert.equal(await connackCode(broker.url, { protocolVersion: 4, clientId: "evil" }), 5);
      for (let i = 0; i < 3; i++) {
        assert.equal(await connackCode(broker.url, { protocolVersion: 5, clientId: "flap" }), 0);
      }
      assert.equal(await connackCode(broker.url, { protocolVersion: 5, clientId: "flap" }), 0x8a);
    } finally {
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a dead Redis authenticator: its clients are refused 0x87, built-in users keep working",
  ignore: WIRING, // needs the hooks wiring (lead)
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await startRedis();
    const yaml = `authentication:
  - mechanism: password_based
    backend: redis
    server: "${redis.server}"
    password: ${redis.password}
    query_timeout: 500ms
  - mechanism: password_based
    backend: built_in_database
    bootstrap_file: $DIR/users.csv
`;
    const { dir, file } = await configDir(yaml, { "users.csv": USERS_CSV });
    const broker = await startBroker({ configFile: file, shards: 2 });
    try {
      redis.process.kill();
      assert.equal(
        await connackCode(broker.url, {
          protocolVersion: 5,
          clientId: "r1",
          username: "ghost",
          password: "x",
        }),
        0x87,
      );
      assert.equal(
        await connackCode(broker.url, {
          protocolVersion: 5,
          clientId: "r2",
          username: "alice",
          password: "alice-pw",
        }),
        0,
      );
    } finally {
      await broker.stop();
      await redis.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "messages_rate: a publisher over the limit is slowed, nothing is dropped",
  ignore: WIRING, // needs the hooks wiring (lead)
  fn: async () => {
    const broker = await startBroker({
      sets: ["listeners.tcp.default.messages_rate=10/s"],
      shards: 2,
    });
    const clients: mqtt.MqttClient[] = [];
    try {
      const sub = await connect(broker.url, { protocolVersion: 5, clientId: "rate-sub" });
      const pub = await connect(broker.url, { protocolVersion: 5, clientId: "rate-pub" });
      clients.push(sub, pub);
      await subscribe(sub, "rate/#", { qos: 1 });
      for (let i = 0; i < 30; i++) pub.publish("rate/t", String(i), { qos: 1 });
      const got = await collect(sub, 30, 20_000);
      assert.deepEqual(got.map((m) => m.payload), Array.from({ length: 30 }, (_, i) => String(i)));
    } finally {
      await closeAll(clients);
      await broker.stop();
    }
  },
});

Deno.test({
  name: "bytes_rate: a publisher over the limit is slowed by the supervisor, nothing is dropped",
  ignore: WIRING,
  fn: async () => {
    const broker = await startBroker({
      sets: ["listeners.tcp.default.bytes_rate=4KB/s"],
      shards: 2,
    });
    const clients: mqtt.MqttClient[] = [];
    try {
      const sub = await connect(broker.url, { protocolVersion: 5, clientId: "brate-sub" });
      const pub = await connect(broker.url, { protocolVersion: 4, clientId: "brate-pub" });
      clients.push(sub, pub);
      await subscribe(sub, "brate/#", { qos: 1 });
      // 12 KB against 4 KB/s: about three seconds of pauses, every message still delivered.
      for (let i = 0; i < 12; i++) pub.publish("brate/t", `${i}:${"b".repeat(1000)}`, { qos: 1 });
      const got = await collect(sub, 12, 20_000);
      assert.deepEqual(
        got.map((m) => m.payload.split(":")[0]),
        Array.from({ length: 12 }, (_, i) => String(i)),
      );
    } finally {
      await closeAll(clients);
      await broker.stop();
    }
  },
});
