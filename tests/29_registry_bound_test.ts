/**
 * Integration suite 29, client registry at its bound (docs/cluster.md, "Client registry"): two
 * real Culex nodes, B keeping at most one peer entry (`cluster.registry_max=1`). A second
 * session on A is refused by B's registry (logged); from then on a clean_start = false connect on
 * B that finds no entry asks every node, so the refused client still finds its session (CONNACK
 * session present 1, MQTT 5.0 3.2.2.1.1 [MQTT-3.2.2-2]) and an unknown id gets session present 0
 * [MQTT-3.2.2-3] after asking A. B's metrics count both lookups as `cluster.session_lookup.peers`
 * and the refused entry as `cluster.registry.refused`.
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import { Api } from "./_helpers/api.ts";
import { closeAll, connackOf, connect, disconnect, runTag } from "./_helpers/clients.ts";
import { addNode, type ClusterNode, freePorts, waitLog, waitUp } from "./_helpers/cluster.ts";

Deno.test({ name: "29 registry: registry_max refuses entries, lookups fall back" }, async (t) => {
  const tag = runTag();
  const [pa, pb] = freePorts(2) as [number, number];
  const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const props = { sessionExpiryInterval: 300 };
  const opts = (clientId: string) => ({
    protocolVersion: 5 as const,
    clientId,
    clean: false,
    properties: props,
  });
  try {
    const a = await addNode(nodes, {
      short: "a",
      clusterPort: pa,
      seeds,
      sets: ["log.level=debug"],
    });
    const b = await addNode(nodes, {
      short: "b",
      clusterPort: pb,
      seeds,
      sets: ["log.level=debug", "cluster.registry_max=1"],
      listeners: ["http:dashboard"],
    });
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    await waitLog(b, `full client registry of ${a.name} received: 0 entries`);

    const second = `bound29b${tag}`;
    await t.step("the entry beyond registry_max is refused and logged", async () => {
      for (const id of [`bound29a${tag}`, second]) {
        const c = await connect(a.url, opts(id));
        await disconnect(c);
      }
      await waitLog(b, "client registry full (cluster.registry_max 1)");
    });

    await t.step("a connect that finds no entry then asks every node", async () => {
      const moved = await connect(b.url, opts(second));
      clients.push(moved);
      assertEquals(connackOf(moved).sessionPresent, true, "the refused entry's session found");
      await waitLog(b, `the session of ${second} asked from ${a.name} (registry: none)`);
      const unknown = `bound29z${tag}`;
      const z = await connect(b.url, opts(unknown));
      clients.push(z);
      assertEquals(connackOf(z).sessionPresent, false, "no node has it");
      await waitLog(b, `the session of ${unknown} asked from ${a.name} (registry: none)`);
      const api = new Api(b.broker.portOf("http:dashboard"));
      await api.asAdmin();
      const r = await api.get("/metrics");
      assertEquals(r.status, 200, r.text);
      const mine = (r.json as Record<string, number>[]).find((m) => String(m.node) === b.name)!;
      const names = ["owner", "owner_fallback", "peers", "none"];
      assertEquals(
        [
          ...names.map((k) => mine[`cluster.session_lookup.${k}`]),
          mine["cluster.registry.refused"],
        ],
        [0, 0, 2, 0, 1],
        "B's lookups (owner, owner_fallback, peers, none) and refused entries",
      );
    });
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.broker.stop();
  }
});
