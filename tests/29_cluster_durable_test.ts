/**
 * Integration suite 29 (cluster with durable sessions, issues 13 and 15): a node that dies with
 * kill -9 and comes back finds its persistent sessions in its store, and the cluster routes to
 * them again: a message published on the other node while the session was offline (before the
 * crash) is delivered after the restart [MQTT-4.4.0-1 for what was queued: QoS 1 at least once],
 * and a message published on the other node after the restart reaches the session through the
 * routes the restored node re-announced (docs/cluster.md, "Node failure"). And a persistent
 * session taken over by another node brings its queue, which lives on disk with durable sessions:
 * the messages queued while it was offline arrive through the new node [MQTT-3.1.2-4 session
 * present, and its QoS 1 messages at least once]. While the node is down, the other node drops
 * what it would forward there and counts it (`messages.dropped.node_down`, also in
 * `messages.dropped`; docs/cluster.md "Failures").
 */

import type { MqttClient } from "mqtt";
import { Api } from "./_helpers/api.ts";
import { assert } from "./_helpers/assert.ts";
import { brokerKind } from "./_helpers/broker.ts";
import { closeAll, connect, publish, runTag, sleep } from "./_helpers/clients.ts";
import {
  addNode,
  type ClusterNode,
  freePorts,
  seedOf,
  startNode,
  waitUp,
} from "./_helpers/cluster.ts";
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
      const b = await addNode(nodes, { short: "b", clusterPort: pb, seeds: [seedOf(a)] });
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

      // While A is down, B keeps its route (autoclean) and drops what it would forward there,
      // counted in both metrics (the total includes its node_down part).
      const apiB = new Api(b.broker.portOf("http:dashboard"));
      await apiB.asAdmin();
      const dropped = async (): Promise<[number, number]> => {
        const r = await apiB.get("/metrics");
        const m = (r.json as Record<string, number | string>[])[0]!;
        return [Number(m["messages.dropped.node_down"]), Number(m["messages.dropped"])];
      };
      let [downDrops, allDrops] = await dropped();
      for (let i = 0; i < 100 && downDrops === 0; i++) {
        await publish(pubB, topic, "while-down", { qos: 1 });
        await sleep(100);
        [downDrops, allDrops] = await dropped();
      }
      assert(downDrops > 0, "b counted the forwards to the down node a");
      assert(allDrops >= downDrops, `messages.dropped (${allDrops}) includes node_down`);

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
      assert(!got.includes("while-down"), "what b dropped while a was down never arrived");
    } finally {
      await closeAll(clients);
      for (const n of nodes) await n.broker.stop();
      if (a) await a.broker.stop();
      await Deno.remove(dirA, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "29 cluster durable: a takeover moves the durable session's on-disk queue to the new node",
  ignore: brokerKind() !== "culex",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tag = runTag();
    const [pa, pb] = freePorts(2) as [number, number];
    const durable = ["durable_sessions.enable=true"];
    const nodes: ClusterNode[] = [];
    const clients: MqttClient[] = [];
    try {
      const a = await addNode(nodes, {
        short: "a",
        clusterPort: pa,
        seeds: [`b@127.0.0.1:${pb}`],
        sets: durable,
      });
      const b = await addNode(nodes, {
        short: "b",
        clusterPort: pb,
        seeds: [`a@127.0.0.1:${pa}`],
        sets: durable,
      });
      await waitUp(a, [b.name]);
      await waitUp(b, [a.name]);
      const id = `s29t${tag}`;
      const onA = persistent(a.url, id, 5);
      clients.push(onA);
      await connected(onA, 10_000);
      await onA.subscribeAsync(`ct29/${tag}/#`, { qos: 1 });
      await onA.endAsync(); // offline: what comes next is queued on A's disk
      const pubA = await connect(a.url, { protocolVersion: 5, clientId: `p29t${tag}` });
      clients.push(pubA);
      const sent = ["q1", "q2", "q3"];
      // PUBACK comes after the queue rows are committed (durable mode).
      for (const p of sent) await publish(pubA, `ct29/${tag}/t`, p, { qos: 1 });

      const got: string[] = [];
      const onB = persistent(b.url, id, 5);
      clients.push(onB);
      onB.on("message", (_t, p) => got.push(new TextDecoder().decode(p)));
      await connected(onB, 15_000);
      for (let i = 0; i < 50 && sent.some((p) => !got.includes(p)); i++) await sleep(100);
      assert(
        sent.every((p) => got.includes(p)),
        `the queued messages came through node b after the takeover (got ${JSON.stringify(got)})`,
      );
    } finally {
      await closeAll(clients);
      for (const n of nodes) await n.broker.stop();
    }
  },
});
