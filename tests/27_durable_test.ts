/**
 * Integration suite 27 (durable sessions, issue 13): `durable_sessions.enable: true` keeps
 * persistent sessions in the store, so a restart (SIGTERM or kill -9) and a different shard
 * count lose no acknowledged message, and the session comes back with its subscriptions and
 * will.
 *
 * - An offline persistent subscriber's QoS 1 and QoS 2 messages, acknowledged to the
 *   publisher, are queued on disk; the broker is killed with SIGKILL, restarted with 3 shards
 *   instead of 2, and the subscriber resumes: session present [MQTT-3.2.2-2], every message
 *   delivered once, in order [MQTT-4.6.0-6], its subscriptions still route new messages.
 * - A will with a delay whose session was connected at the crash is published after the
 *   restart, once the delay has passed [MQTT-3.1.3-9].
 * - A clean start after the restart discards the stored session [MQTT-3.1.2-4].
 *
 * Brokers: real processes on one data_dir, 2 shards then 3.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { brokerKind, startBroker } from "./_helpers/broker.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connackOf,
  connect,
  destroy,
  disconnect,
  expectNone,
  publish,
  subscribe,
  takeMatching,
} from "./_helpers/clients.ts";

const DURABLE = ["durable_sessions.enable=true", "log.level=info"];

Deno.test({
  name: "27 durable: offline queue, subscriptions and will survive kill -9 and a new shard count",
  ignore: brokerKind() !== "culex",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27d_" });
    const subId = clientIdForShard(0, 2, "d27sub");
    const pubId = clientIdForShard(1, 2, "d27pub");
    const willId = clientIdForShard(1, 2, "d27will");
    const session = { properties: { sessionExpiryInterval: 3600 } };
    let broker = await startBroker({ dataDir: dir, shards: 2, sets: DURABLE });
    try {
      // A persistent subscriber on shard 0; the publisher on shard 1 (every message crosses).
      const sub = await connect(broker.url, {
        protocolVersion: 5,
        clientId: subId,
        clean: false,
        ...session,
      });
      await subscribe(sub, "d27/q1/#", { qos: 1 });
      await subscribe(sub, "d27/q2/#", { qos: 2 });
      await disconnect(sub);
      // A client whose will waits 2 s, connected when the broker dies.
      const willer = await connect(broker.url, {
        protocolVersion: 5,
        clientId: willId,
        clean: false,
        ...session,
        will: {
          topic: "d27/will",
          payload: new TextEncoder().encode("gone") as unknown as string,
          qos: 1,
          retain: false,
          properties: { willDelayInterval: 2 },
        },
      });
      const pub = await connect(broker.url, { protocolVersion: 5, clientId: pubId });
      for (let i = 0; i < 20; i++) {
        await publish(pub, `d27/q1/${i}`, `one-${i}`, { qos: 1 });
        await publish(pub, `d27/q2/${i}`, `two-${i}`, { qos: 2 });
      }
      // Every PUBACK/PUBCOMP above came after the commit: kill -9 now loses none of them.
      broker.kill();
      await broker.stop();
      await closeAll([pub]);
      await destroy(willer);

      broker = await startBroker({ dataDir: dir, shards: 3, sets: DURABLE });
      assert(/loaded \d+ persistent session/.test(broker.logs()), broker.logs());
      const watcher = await connect(broker.url, { protocolVersion: 5, clientId: "d27watch" });
      await subscribe(watcher, "d27/will", { qos: 1 });
      const again = await connect(broker.url, {
        protocolVersion: 5,
        clientId: subId,
        clean: false,
        ...session,
      });
      assertEquals(connackOf(again).sessionPresent, true, "session present after the restart");
      const got = await collect(again, 40, 15_000);
      const ones = got.filter((m) => m.topic.startsWith("d27/q1/")).map((m) => m.payload);
      const twos = got.filter((m) => m.topic.startsWith("d27/q2/")).map((m) => m.payload);
      assertEquals(ones, Array.from({ length: 20 }, (_, i) => `one-${i}`), "QoS 1 in order");
      assertEquals(twos, Array.from({ length: 20 }, (_, i) => `two-${i}`), "QoS 2 in order");
      assert(got.every((m) => m.packet.qos === (m.topic.startsWith("d27/q1/") ? 1 : 2)), "QoS");
      await expectNone(again, 300);
      // The subscriptions came back with the session: a new message still routes.
      const pub2 = await connect(broker.url, { protocolVersion: 5, clientId: pubId });
      await publish(pub2, "d27/q2/new", "after", { qos: 2 });
      const after = await takeMatching(again, (m) => m.topic === "d27/q2/new", 10_000);
      assertEquals(after.payload, "after", "routed after the restart");
      // The will of the connection the crash ended, after its 2 s delay.
      const will = await takeMatching(watcher, (m) => m.topic === "d27/will", 10_000);
      assertEquals(will.payload, "gone", "the stored will");
      await disconnect(again);
      // A clean start discards the stored session.
      const clean = await connect(broker.url, { protocolVersion: 5, clientId: subId, clean: true });
      assertEquals(connackOf(clean).sessionPresent, false, "clean start: no session");
      await closeAll([clean, pub2, watcher]);
      assertEquals(await broker.stop(), 0, "exit code after SIGTERM");
      broker = await startBroker({ dataDir: dir, shards: 1, sets: DURABLE });
      const fresh = await connect(broker.url, {
        protocolVersion: 5,
        clientId: subId,
        clean: false,
        ...session,
      });
      assertEquals(connackOf(fresh).sessionPresent, false, "the clean start was stored too");
      await closeAll([fresh]);
    } finally {
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
