/**
 * Integration suite 29 (netsplit): two real Culex nodes whose only link runs through a TCP proxy
 * that stops forwarding (a netsplit as the nodes see it: no bytes, no close) and then heals.
 * Heartbeats detect the split; while split each side serves its own clients (publish, subscribe,
 * connect); on heal the link comes back, both sides re-send their full routes, and a subscription
 * made during the split receives messages from the other side (docs/cluster.md, "Netsplit").
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import { closeAll, connect, publish, runTag, subscribe } from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  takeReal,
  waitLog,
  waitUp,
} from "./_helpers/cluster.ts";
import { startTcpProxy } from "./_helpers/tcp_proxy.ts";

Deno.test(
  { name: "29 netsplit: a cut link is detected, both sides go on, heal resyncs routes" },
  async (t) => {
    const tag = runTag();
    const [pa, pb] = freePorts(2) as [number, number];
    const proxy = startTcpProxy(pb);
    const nodes: ClusterNode[] = [];
    const clients: MqttClient[] = [];
    const client = async (n: ClusterNode, id: string) => {
      const c = await connect(n.url, { protocolVersion: 5, clientId: `${id}${tag}` });
      clients.push(c);
      return c;
    };
    try {
      // A dials B through the proxy only; B dials nobody.
      const a = await addNode(nodes, {
        short: "a",
        clusterPort: pa,
        seeds: [`b@127.0.0.1:${proxy.port}`],
        shards: 1,
      });
      const b = await addNode(nodes, {
        short: "b",
        clusterPort: pb,
        strategy: "manual",
        shards: 1,
      });
      await waitUp(a, [b.name]);
      const pubA = await client(a, "p29nA");
      const subB = await client(b, "s29nB");
      await subscribe(subB, `n29/${tag}/#`, { qos: 1 });
      await awaitRoute(pubA, subB, `n29/${tag}/before`);

      await t.step("the cut is detected by heartbeats on both sides", async () => {
        proxy.cut();
        await waitLog(a, `node ${b.name} is down`, 10_000);
        await waitLog(b, `node ${a.name} is down`, 10_000);
      });

      await t.step("while split each side serves its own clients", async () => {
        const subA = await client(a, "s29nA");
        await subscribe(subA, `local/${tag}/#`, { qos: 1 });
        await publish(pubA, `local/${tag}/x`, "on-a", { qos: 1 });
        assertEquals((await takeReal(subA, 1, 5_000)).map((m) => m.payload), ["on-a"], "A alone");
        const pubB = await client(b, "p29nB");
        await publish(pubB, `n29/${tag}/b-side`, "on-b", { qos: 1 });
        assertEquals((await takeReal(subB, 1, 5_000)).map((m) => m.payload), ["on-b"], "B alone");
      });

      await t.step(
        "after heal the link is back and routes made during the split work",
        async () => {
          // A subscription on B made during the split: A learns it from the full resync.
          const late = await client(b, "s29nL");
          await subscribe(late, `split/${tag}/#`, { qos: 1 });
          proxy.heal();
          await waitUp(a, [b.name], 20_000, 2);
          await awaitRoute(pubA, late, `split/${tag}/x`);
          await publish(pubA, `split/${tag}/x`, "healed", { qos: 1 });
          assertEquals((await takeReal(late, 1, 5_000)).map((m) => m.payload), ["healed"], "A → B");
        },
      );
    } finally {
      await closeAll(clients);
      await Promise.all(nodes.map((n) => n.broker.stop()));
      await proxy.close();
    }
  },
);
