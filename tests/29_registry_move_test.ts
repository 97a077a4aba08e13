/**
 * Integration suite 29, client registry (docs/cluster.md, "Client registry"): real Culex nodes
 * on 127.0.0.1 (static seeds, 2 shards each) and npm:mqtt clients. A client with
 * clean_start = false that moves A → B → C finds its session each time (CONNACK session present
 * 1, MQTT 5.0 3.2.2.1.1 [MQTT-3.2.2-2]) and only the node the registry names is asked (each
 * node's debug log names who asked it for which session, and the asking node's metrics
 * `cluster.session_lookup.owner|owner_fallback|peers|none` from GET /api/v5/metrics count how it
 * looked up); an id nobody holds asks no node and
 * gets session present 0 [MQTT-3.2.2-3]; a node that joins later gets every node's full set;
 * a node killed with SIGKILL: a reconnect of its client does not wait for
 * cluster.takeover_timeout (set to 60 s here, beyond the connect's own bound), and its entries are
 * dropped after cluster.autoclean.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { Api } from "./_helpers/api.ts";
import {
  closeAll,
  connackOf,
  connect,
  disconnect,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  takeReal,
  waitLog,
  waitUp,
} from "./_helpers/cluster.ts";

/** A node's session lookups by outcome (its `cluster.session_lookup.*` metrics). */
type Lookups = Record<string, [owner: number, fallback: number, peers: number, none: number]>;

/** Every running node's lookups, from one node's GET /api/v5/metrics (one entry per node). */
async function lookups(api: Api): Promise<Lookups> {
  const r = await api.get("/metrics");
  assertEquals(r.status, 200, r.text);
  const out: Lookups = {};
  for (const m of r.json as Record<string, number | string>[]) {
    const at = (k: string) => Number(m[`cluster.session_lookup.${k}`]);
    out[String(m.node)] = [at("owner"), at("owner_fallback"), at("peers"), at("none")];
  }
  return out;
}

/** `after` less `before` per node (a node missing from `before` counts from 0). */
function delta(before: Lookups, after: Lookups): Lookups {
  const out: Lookups = {};
  for (const [node, v] of Object.entries(after)) {
    const b = before[node] ?? [0, 0, 0, 0];
    out[node] = [v[0] - b[0], v[1] - b[1], v[2] - b[2], v[3] - b[3]];
  }
  return out;
}

function count(node: ClusterNode, text: string): number {
  const logs = node.broker.logs();
  let n = 0;
  for (let at = logs.indexOf(text); at >= 0; at = logs.indexOf(text, at + 1)) n++;
  return n;
}

Deno.test({ name: "29 registry: a session found where the registry says" }, async (t) => {
  const tag = runTag();
  const [pa, pb, pc, pd] = freePorts(4) as [number, number, number, number];
  const seed = (s: string, p: number) => `${s}@127.0.0.1:${p}`;
  const all = [seed("a", pa), seed("b", pb), seed("c", pc)];
  const sets = [
    "log.level=debug",
    "cluster.takeover_timeout=60s",
    "cluster.autoclean=2s",
  ];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const id = `reg29${tag}`;
  const props = { sessionExpiryInterval: 300 };
  const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: props };
  const asked = (n: ClusterNode) => count(n, `asks for the session of ${id}`);
  /** Runs `act`, then waits until `on` got a registry change from `from`. */
  const changed = async (on: ClusterNode, from: ClusterNode, act: () => Promise<void>) => {
    const text = `registry of ${from.name}: +`;
    const before = count(on, text);
    await act();
    await waitLog(on, text, 15_000, before + 1);
  };
  try {
    const start = (short: string, port: number, seeds: string[]) =>
      addNode(nodes, {
        short,
        clusterPort: port,
        seeds,
        sets,
        ...(short === "a" ? { listeners: ["http:dashboard"] } : {}),
      });
    const a = await start("a", pa, all);
    const b = await start("b", pb, all);
    const c = await start("c", pc, all);
    await waitUp(a, [b.name, c.name]);
    await waitUp(b, [a.name, c.name]);
    await waitUp(c, [a.name, b.name]);
    const api = new Api(a.broker.portOf("http:dashboard"));
    await api.asAdmin();
    const zero: [number, number, number, number] = [0, 0, 0, 0];
    const topic = `reg29/${tag}`;
    const pub = await connect(c.url, { protocolVersion: 5, clientId: `pub29${tag}` });
    clients.push(pub);

    await t.step(
      "a client moving A → B → C finds its session; only the owner is asked",
      async () => {
        let x: MqttClient | null = null;
        const before = await lookups(api);
        await changed(b, a, async () => {
          x = await connect(a.url, opts);
          await subscribe(x, `${topic}/#`, { qos: 1 });
          await awaitRoute(pub, x, `${topic}/a`);
          await disconnect(x);
        });
        await waitLog(c, `registry of ${a.name}: +`);
        assertEquals([asked(a), asked(b), asked(c)], [0, 0, 0], "nobody asked yet");

        await changed(c, b, async () => {
          x = await connect(b.url, opts);
          clients.push(x);
        });
        assertEquals(connackOf(x!).sessionPresent, true, "session present on B");
        assertEquals([asked(a), asked(b), asked(c)], [1, 0, 0], "only A (the owner) was asked");
        await awaitRoute(pub, x!, `${topic}/b`);
        await disconnect(x!);

        x = await connect(c.url, opts);
        clients.push(x);
        assertEquals(connackOf(x).sessionPresent, true, "session present on C");
        assertEquals([asked(a), asked(b), asked(c)], [1, 1, 0], "only B (the owner) was asked");
        await awaitRoute(pub, x, `${topic}/c`);
        await publish(pub, `${topic}/c`, "on-c", { qos: 1 });
        assertEquals((await takeReal(x, 1, 10_000)).map((m) => m.payload), ["on-c"], "delivered");
        await disconnect(x);
        // The same from the metrics: A found no entry and asked no node (the first connect),
        // B and C asked the owner alone; no fallback, no asking every peer.
        assertEquals(delta(before, await lookups(api)), {
          [a.name]: [0, 0, 0, 1],
          [b.name]: [1, 0, 0, 0],
          [c.name]: [1, 0, 0, 0],
        }, "lookups by outcome (owner, owner_fallback, peers, none)");
      },
    );

    await t.step("an id no node holds asks no node: session present 0 at once", async () => {
      const fresh = `${id}-none`;
      const before = await lookups(api);
      const y = await connect(b.url, { ...opts, clientId: fresh });
      clients.push(y);
      assertEquals(connackOf(y).sessionPresent, false, "no session [MQTT-3.2.2-3]");
      await waitLog(b, `the session of ${fresh} asked from no node`);
      for (const n of [a, c]) assertEquals(count(n, `session of ${fresh}`), 0, `${n.name} asked`);
      assertEquals(delta(before, await lookups(api)), {
        [a.name]: zero,
        [b.name]: [0, 0, 0, 1],
        [c.name]: zero,
      }, "B asked no node");
    });

    let d: ClusterNode | null = null;
    await t.step("a node joining later gets every node's full set", async () => {
      d = await start("d", pd, [...all, seed("d", pd)]);
      await waitUp(d, [a.name, b.name, c.name]);
      await waitLog(d, `full client registry of ${c.name} received:`);
      const line = d.broker.logs().split("\n").find((l) =>
        l.includes(`full client registry of ${c.name} received:`)
      )!;
      const n = Number(/received: (\d+) entries/.exec(line)?.[1]);
      assert(n >= 2, `C's set holds the moved session and the publisher: ${line}`);
      // The session is on C: D asks C only.
      const before = await lookups(api);
      const x = await connect(d.url, opts);
      clients.push(x);
      assertEquals(connackOf(x).sessionPresent, true, "session present on D");
      assertEquals([asked(a), asked(b), asked(c)], [1, 1, 1], "only C (the owner) was asked");
      assertEquals(delta(before, await lookups(api)), {
        [a.name]: zero,
        [b.name]: zero,
        [c.name]: zero,
        [d.name]: [1, 0, 0, 0],
      }, "D asked the owner alone");
      await awaitRoute(pub, x, `${topic}/d`);
      await disconnect(x);
      await waitLog(a, `registry of ${d.name}: +`);
    });

    await t.step(
      "the owner killed: no wait for takeover_timeout, entries gone after autoclean",
      async () => {
        d!.broker.kill();
        await d!.broker.stop().catch(() => 0);
        nodes.splice(nodes.indexOf(d!), 1);
        await waitLog(a, `node ${d!.name} is down`);
        const before = await lookups(api);
        // A's registry names D, which is down: no node is asked, the connect is not held for
        // the 60 s takeover_timeout (connect() gives up after 10 s).
        const x = await connect(a.url, opts);
        clients.push(x);
        assertEquals(connackOf(x).sessionPresent, false, "D's memory session is gone with D");
        await waitLog(a, `the session of ${id} asked from no node (registry: ${d!.name})`);
        // D is left out of the answer (down); A counted a lookup that asked no node.
        const after = await lookups(api);
        assertEquals(delta(before, after)[a.name], [0, 0, 0, 1], "A asked no node");
        await waitLog(a, `client registry entries of ${d!.name} dropped`);
        await waitLog(b, `client registry entries of ${d!.name} dropped`);
      },
    );
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.broker.stop();
  }
});
