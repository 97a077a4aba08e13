/**
 * Integration suite 29 (cluster with durable sessions, issues 13 and 15): a node that dies with
 * kill -9 and comes back finds its persistent sessions in its store, and the cluster routes to
 * them again: a message published on the other node while the session was offline (before the
 * crash) is delivered after the restart [MQTT-4.4.0-1 for what was queued: QoS 1 at least once],
 * and a message published on the other node after the restart reaches the session through the
 * routes the restored node re-announced (docs/cluster.md, "Node failure").
 */

import type { MqttClient } from "mqtt";
import { assert } from "./_helpers/assert.ts";
import { brokerKind } from "./_helpers/broker.ts";
import { closeAll, connect, publish, runTag, sleep } from "./_helpers/clients.ts";
import { type ClusterNode, freePorts, startNode, waitUp } from "./_helpers/cluster.ts";
import { connected, persistent } from "./_helpers/durable.ts";

Deno.test({
  name: "29 cluster durable: a node killed with -9 comes back with its sessions and routes",
  ignore: brokerKind() !== "culex",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tag = runTag();
    const [pa, pb, mqttA] = freePorts(3) as [number, number, number];
    const dirA = await Deno.makeTempDir({ prefix: "culex_test_29d_" });
    const startA = () =>
      startNode({
        short: "a",
        clusterPort: pa,
        seeds: [`b@127.0.0.1:${pb}`],
        dataDir: dirA,
        sets: ["durable_sessions.enable=true", `listeners.tcp.default.bind=127.0.0.1:${mqttA}`],
      });
    const nodes: ClusterNode[] = [];
    const clients: MqttClient[] = [];
    let a: ClusterNode | null = null;
    try {
      a = await startA();
      const b = await startNode({ short: "b", clusterPort: pb, seeds: [`a@127.0.0.1:${pa}`] });
      nodes.push(b);
      await waitUp(a, [b.name]);
      await waitUp(b, [a.name]);
      const topic = `cd29/${tag}/t`;

      // A persistent session on A subscribes, then goes offline.
      const sub = persistent(a.url, `s29d${tag}`, 5);
      clients.push(sub);
      await connected(sub, 10_000);
      await sub.subscribeAsync(`cd29/${tag}/#`, { qos: 1 });
      const got: string[] = [];
      sub.on("message", (t, p) => {
        if (t === topic) got.push(new TextDecoder().decode(p));
      });
      const pubB = await connect(b.url, { protocolVersion: 5, clientId: `p29d${tag}` });
      clients.push(pubB);
      // The route reached B once a probe published there arrives at the subscriber.
      for (let i = 0; i < 100 && !got.includes("probe"); i++) {
        await publish(pubB, topic, "probe", { qos: 0 });
        await sleep(100);
      }
      assert(got.includes("probe"), "the subscription's route reached node b");
      await sub.endAsync();

      // Queued on A's disk for the offline session, then A dies at once.
      await publish(pubB, topic, "before-crash", { qos: 1 });
      await sleep(500); // B forwards, A's shard commits the queue row (QoS 1 via the link)
      a.broker.kill();
      await a.broker.stop();
      a = null;

      a = await startA();
      await waitUp(b, [`a@127.0.0.1`], 20_000, 2);
      sub.reconnect();
      await connected(sub, 15_000);
      for (let i = 0; i < 50 && !got.includes("before-crash"); i++) await sleep(100);
      assert(got.includes("before-crash"), `the queued message survived A's crash (${got})`);

      // Routes are back: a message published on B after the restart reaches the session.
      for (let i = 0; i < 100 && !got.includes("after-restart"); i++) {
        await publish(pubB, topic, "after-restart", { qos: 1 });
        await sleep(100);
      }
      assert(got.includes("after-restart"), "a message published on b after the restart arrived");
    } finally {
      await closeAll(clients);
      for (const n of nodes) await n.broker.stop();
      if (a) await a.broker.stop();
      await Deno.remove(dirA, { recursive: true }).catch(() => {});
    }
  },
});
