/**
 * Integration suite 29: a cluster of three real Culex nodes on 127.0.0.1 (static seeds, random
 * ports, 2 shards each), driven by npm:mqtt clients. A publish on one node reaches subscribers
 * on the others at QoS 0/1/2 with each publisher's order kept [MQTT-4.6.0-5]; a wildcard route
 * takes a message once to each node; a shared group spans the nodes with one member per message
 * [MQTT-4.8.2-3]; a retained message is seen on another node [MQTT-3.3.1-6]; a client id that
 * connects on another node ends the old connection with 0x8E (Session taken over, MQTT 5.0
 * 3.14.2.1); a node with the wrong cookie is refused; a node killed with SIGKILL does not stop
 * the others and, restarted, gets its routes and the retained messages back.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  closeAll,
  connackOf,
  connect,
  disconnect,
  disconnectOf,
  drain,
  publish,
  type Received,
  runTag,
  subscribe,
  takeMatching,
  waitClosed,
} from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  startNode,
  takeReal,
  waitLog,
  waitUp,
} from "./_helpers/cluster.ts";

Deno.test({ name: "29 cluster: three nodes by static seeds" }, async (t) => {
  const tag = runTag();
  const [pa, pb, pc, pd] = freePorts(4) as [number, number, number, number];
  const seed = (s: string, p: number) => `${s}@127.0.0.1:${p}`;
  const all = [seed("a", pa), seed("b", pb), seed("c", pc)];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const client = async (n: ClusterNode, id: string, v: 4 | 5 = 5, clean = true) => {
    const c = await connect(n.url, { protocolVersion: v, clientId: `${id}${tag}`, clean });
    clients.push(c);
    return c;
  };
  try {
    // One after the other: three nodes starting at once on a loaded 2-core machine can pass
    // the helper's start-up bound.
    const start = (short: string, clusterPort: number) =>
      addNode(nodes, { short, clusterPort, seeds: all });
    const a = await start("a", pa);
    const b = await start("b", pb);
    const c = await start("c", pc);

    await t.step("every node links to the two others", async () => {
      await waitUp(a, [b.name, c.name]);
      await waitUp(b, [a.name, c.name]);
      await waitUp(c, [a.name, b.name]);
    });

    await t.step("publish on A reaches B at QoS 0, 1, 2 in the publisher's order", async () => {
      const pub = await client(a, "p29q");
      const sub = await client(b, "s29q");
      for (const qos of [0, 1, 2] as const) {
        const topic = `t29/${tag}/q${qos}`;
        await subscribe(sub, `t29/${tag}/q${qos}/#`, { qos: 2 });
        await awaitRoute(pub, sub, `${topic}/x`);
        const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
        for (const p of sent) await publish(pub, `${topic}/x`, p, { qos });
        const got = await takeReal(sub, 50, 10_000);
        assertEquals(got.map((m) => m.payload), sent, `QoS ${qos}: every message, in order`);
        assert(got.every((m) => m.packet.qos === qos), `delivered at QoS ${qos}`);
      }
    });

    await t.step("a wildcard route takes a message once to each node (B and C)", async () => {
      const pub = await client(a, "p29w");
      const onB = await client(b, "s29wb");
      const onB2 = await client(b, "s29wb2");
      const onC = await client(c, "s29wc");
      for (const s of [onB, onB2, onC]) await subscribe(s, `w29/${tag}/+/z`, { qos: 1 });
      for (const s of [onB, onB2, onC]) await awaitRoute(pub, s, `w29/${tag}/probe/z`);
      await publish(pub, `w29/${tag}/k/z`, "one", { qos: 1 });
      for (const s of [onB, onB2, onC]) {
        const got = await takeReal(s, 1, 5_000);
        assertEquals(got.map((m) => m.payload), ["one"], "the message");
        const more = (await drain(s, 300)).filter((m) => m.payload !== "probe");
        assertEquals(more.length, 0, "no second copy");
      }
    });

    await t.step("a shared group spans the nodes: one member per message", async () => {
      const topic = `sh29/${tag}/x`;
      const members = [
        await client(a, "m29a"),
        await client(b, "m29b"),
        await client(c, "m29c"),
      ];
      for (const m of members) await subscribe(m, `$share/g/${topic}`, { qos: 1 });
      const pub = await client(a, "p29s");
      // Membership reached A when probes went round to every member.
      const seen = new Set<number>();
      for (let i = 0; i < 200 && seen.size < 3; i++) {
        await publish(pub, topic, "probe", { qos: 1 });
        for (const [k, m] of members.entries()) {
          if ((await drain(m, 10)).some((r) => r.payload === "probe")) seen.add(k);
        }
      }
      assertEquals(seen.size, 3, "every member got a probe");
      const sent = Array.from({ length: 30 }, (_, i) => `s${i}`);
      for (const p of sent) await publish(pub, topic, p, { qos: 1 });
      const got: Received[][] = [[], [], []];
      for (let i = 0; i < 100 && got.flat().length < 30; i++) {
        for (const [k, m] of members.entries()) {
          got[k]!.push(...(await drain(m, 20)).filter((r) => r.payload !== "probe"));
        }
      }
      const payloads = got.flat().map((m) => m.payload).sort();
      assertEquals(payloads, [...sent].sort(), "each message exactly once in the group");
      assert(
        got.every((g) => g.length > 0),
        `every node's member got some: ${got.map((g) => g.length)}`,
      );
    });

    await t.step("a retained message published on A is seen by a subscriber on B", async () => {
      const pub = await client(a, "p29r");
      const topic = `r29/${tag}/cfg`;
      await publish(pub, topic, "retained-v1", { qos: 1, retain: true });
      let found: Received | null = null;
      for (let i = 0; i < 50 && !found; i++) {
        const s = await connect(b.url, { protocolVersion: 5, clientId: `s29r${i}${tag}` });
        await subscribe(s, topic, { qos: 1 });
        found = await takeMatching(s, (m) => m.topic === topic, 200).catch(() => null);
        await closeAll([s]);
      }
      assert(found !== null, "retained message replicated to B");
      assertEquals(found.payload, "retained-v1", "the retained payload");
      assert(found.packet.retain, "retain flag set [MQTT-3.3.1-8]");
    });

    await t.step("the same client id on B ends A's connection with 0x8E", async () => {
      const old = await client(a, "tk29");
      await client(b, "tk29");
      await waitClosed(old, 10_000);
      assertEquals(disconnectOf(old)?.reasonCode, 0x8e, "Session taken over");
    });

    await t.step(
      "a persistent session moves from A to B with its subscriptions and queue [MQTT-3.2.2-2]",
      async () => {
        const topic = `mv29/${tag}`;
        const props = { sessionExpiryInterval: 300 };
        const opts = { protocolVersion: 5 as const, clientId: `mv29${tag}`, clean: false };
        const first = await connect(a.url, { ...opts, properties: props });
        clients.push(first);
        await subscribe(first, `${topic}/#`, { qos: 1 });
        const pub = await client(c, "p29mv");
        await awaitRoute(pub, first, `${topic}/x`);
        // A second subscriber on A shows when the forwards from C have reached A, so that the
        // queue moves at BEGIN (messages still on the C->A link become the session's pendings
        // at END instead: tests/29_takeover2_pending_test.ts).
        const watcher = await client(a, "w29mv");
        await subscribe(watcher, `${topic}/#`, { qos: 1 });
        await awaitRoute(pub, watcher, `${topic}/x`);
        await disconnect(first);
        const sent = Array.from({ length: 5 }, (_, i) => `queued${i}`);
        for (const p of sent) await publish(pub, `${topic}/x`, p, { qos: 1 });
        assertEquals((await takeReal(watcher, 5, 10_000)).map((m) => m.payload), sent, "on A");
        // The same id on B with clean_start = false takes the session over from A.
        const moved = await connect(b.url, { ...opts, properties: props });
        clients.push(moved);
        assertEquals(connackOf(moved).sessionPresent, true, "session present on B");
        const got = await takeReal(moved, 5, 10_000);
        assertEquals(got.map((m) => m.payload), sent, "the queue, in order");
        // The subscription moved too: a publish anywhere reaches the client on B.
        await awaitRoute(pub, moved, `${topic}/y`);
        await publish(pub, `${topic}/y`, "after-move", { qos: 1 });
        assertEquals(
          (await takeReal(moved, 1, 5_000)).map((m) => m.payload),
          ["after-move"],
          "new",
        );

        // Connected on B, the id connects on A: B's connection ends with 0x8E, the session
        // comes back to A.
        const back = await connect(a.url, { ...opts, properties: props });
        clients.push(back);
        await waitClosed(moved, 10_000);
        assertEquals(disconnectOf(moved)?.reasonCode, 0x8e, "Session taken over on B");
        assertEquals(connackOf(back).sessionPresent, true, "session present on A again");
        await awaitRoute(pub, back, `${topic}/z`);
      },
    );

    await t.step("a node with the wrong cookie is refused", async () => {
      const d = await addNode(nodes, {
        short: "d",
        clusterPort: pd,
        seeds: [seed("a", pa)],
        cookie: "wrong",
      });
      await waitLog(a, "wrong cookie");
      await waitLog(d, "wrong cookie");
      assert(!d.broker.logs().includes("is up"), "no link came up on the refused node");
      await d.broker.stop();
      nodes.pop();
    });

    await t.step(
      "C killed (SIGKILL): A and B go on; C restarted gets routes and retained",
      async () => {
        c.broker.kill();
        await c.broker.stop();
        await waitLog(a, `node ${c.name} is down`);
        const pub = await client(a, "p29k");
        const sub = await client(b, "s29k");
        await subscribe(sub, `k29/${tag}/#`, { qos: 1 });
        await awaitRoute(pub, sub, `k29/${tag}/x`);
        await publish(pub, `k29/${tag}/x`, "while-c-down", { qos: 1 });
        assertEquals(
          (await takeReal(sub, 1, 5_000)).map((m) => m.payload),
          ["while-c-down"],
          "A → B",
        );

        const c2 = await startNode({ short: "c", clusterPort: pc, seeds: all });
        nodes[2] = c2;
        await waitUp(a, [c2.name], 15_000, 2);
        const onC = await client(c2, "s29kc");
        await subscribe(onC, `k29/${tag}/#`, { qos: 1 });
        await awaitRoute(pub, onC, `k29/${tag}/y`);
        await publish(pub, `k29/${tag}/y`, "after-restart", { qos: 1 });
        assertEquals(
          (await takeReal(onC, 1, 5_000)).map((m) => m.payload),
          ["after-restart"],
          "A → C",
        );
        // The retained message published on A before C died reached the new C in the full set.
        let found: Received | null = null;
        for (let i = 0; i < 50 && !found; i++) {
          const s = await connect(c2.url, { protocolVersion: 5, clientId: `s29rc${i}${tag}` });
          await subscribe(s, `r29/${tag}/cfg`, { qos: 1 });
          found = await takeMatching(s, (m) => m.topic === `r29/${tag}/cfg`, 200).catch(() => null);
          await closeAll([s]);
        }
        assertEquals(found?.payload, "retained-v1", "retained set sent to the restarted node");
      },
    );
  } finally {
    await closeAll(clients);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  }
});
