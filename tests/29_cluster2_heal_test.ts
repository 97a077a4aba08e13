/**
 * Integration suite 29 (netsplit heal): two real Culex nodes whose only link runs through a TCP
 * proxy that stops forwarding, then heals (docs/cluster.md, "Netsplit"). While split, the same
 * client id connects on both sides and a retained message is cleared on one side. On heal the
 * newest connection stays and the older one is ended with DISCONNECT 0x8E (Session taken over,
 * MQTT 5.0 3.14.2.1), and the cleared retained message does not come back from the other side
 * (the clear is kept as a tombstone and replicated) [MQTT-3.3.1-6]/[MQTT-3.3.1-10]. One shard per
 * node, so a marker retained message after the full set proves the set was applied.
 */

import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import {
  closeAll,
  connect,
  disconnectOf,
  drain,
  isClosed,
  publish,
  type Received,
  runTag,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";
import { addNode, type ClusterNode, freePorts, waitLog, waitUp } from "./_helpers/cluster.ts";
import { startTcpProxy } from "./_helpers/tcp_proxy.ts";

Deno.test(
  { name: "29 cluster2: netsplit heal keeps the newest connection, no resurrection" },
  async (t) => {
    const tag = runTag();
    const [pa, pb] = freePorts(2) as [number, number];
    const proxy = startTcpProxy(pb);
    const nodes: ClusterNode[] = [];
    const clients: MqttClient[] = [];
    const client = async (n: ClusterNode, id: string) => {
      const c = await connect(n.url, { protocolVersion: 5, clientId: id });
      clients.push(c);
      return c;
    };
    /** The retained messages under `prefix` on `n` once `marker` arrived too (bounded). */
    const retainedWith = async (n: ClusterNode, prefix: string, marker: string) => {
      for (let i = 0; i < 50; i++) {
        const c = await client(n, `r29h${i}${n.name[0]}${tag}`);
        await subscribe(c, `${prefix}/#`, { qos: 1 });
        const got: Received[] = await drain(c, 300);
        await closeAll([c]);
        if (got.some((m) => m.topic === marker)) return got.map((m) => m.topic).sort();
      }
      throw new Error(`${n.name}: the marker ${marker} never arrived`);
    };
    try {
      // A dials B through the proxy only; B dials nobody.
      const a = await addNode(nodes, {
        short: "a",
        clusterPort: pa,
        seeds: [`b@127.0.0.1:${proxy.port}`],
        shards: 1,
        sets: ["sys_topics.sys_msg_interval=0"],
      });
      const b = await addNode(nodes, {
        short: "b",
        clusterPort: pb,
        strategy: "manual",
        shards: 1,
        sets: ["sys_topics.sys_msg_interval=0"],
      });
      await waitUp(a, [b.name]);
      const prefix = `h29/${tag}`;
      const pubA = await client(a, `p29hA${tag}`);
      await publish(pubA, `${prefix}/x`, "before-split", { qos: 1, retain: true });
      await publish(pubA, `${prefix}/m0`, "marker", { qos: 1, retain: true });
      assert.deepEqual(
        await retainedWith(b, prefix, `${prefix}/m0`),
        [`${prefix}/m0`, `${prefix}/x`],
        "x replicated to B before the split",
      );

      const dupId = `dup29${tag}`;
      let older: MqttClient;
      let newer: MqttClient;
      await t.step("split: the same id connects on A, then on B; A clears x", async () => {
        proxy.cut();
        await waitLog(a, `node ${b.name} is down`, 10_000);
        await waitLog(b, `node ${a.name} is down`, 10_000);
        older = await client(a, dupId);
        await new Promise((r) => setTimeout(r, 20)); // a later connect time on B
        newer = await client(b, dupId);
        await publish(pubA, `${prefix}/x`, "", { qos: 1, retain: true });
        assert.ok(!isClosed(older) && !isClosed(newer), "both connected while split");
      });

      await t.step("heal: the older connection (on A) ends with 0x8E, B's stays", async () => {
        proxy.heal();
        await waitUp(a, [b.name], 20_000, 2);
        await waitClosed(older, 15_000);
        assert.equal(disconnectOf(older)?.reasonCode, 0x8e, "Session taken over");
        assert.ok(!isClosed(newer), "the newest connection stays");
        await waitLog(a, `and 1 clears to ${b.name}`, 10_000);
      });

      await t.step("heal: the cleared retained message comes back on neither side", async () => {
        // Markers after the full sets, on the same link and shard: once one is read, the set and
        // the clear before it were applied.
        const pubB = await client(b, `p29hB${tag}`);
        await publish(pubA, `${prefix}/m1`, "marker", { qos: 1, retain: true });
        await publish(pubB, `${prefix}/m2`, "marker", { qos: 1, retain: true });
        const onB = await retainedWith(b, prefix, `${prefix}/m1`);
        assert.ok(!onB.includes(`${prefix}/x`), `B dropped x on the clear: ${onB.join(", ")}`);
        const onA = await retainedWith(a, prefix, `${prefix}/m2`);
        assert.ok(!onA.includes(`${prefix}/x`), `A refused B's older x: ${onA.join(", ")}`);
        assert.ok(!isClosed(newer), "still connected");
      });
    } finally {
      await closeAll(clients);
      await Promise.all(nodes.map((n) => n.broker.stop()));
      await proxy.close();
    }
  },
);
