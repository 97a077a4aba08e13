/**
 * Integration suite 29 (cluster operations): three real Culex nodes with
 * `cluster.discovery_strategy = manual` form a cluster through `culex ctl cluster join` (a real
 * `culex` process on each node's control socket), answer `cluster status` in EMQX's text
 * (emqx_mgmt_cli.erl cluster/1), and the HTTP API answers for every node: GET /cluster,
 * /nodes, /nodes/{node}, GET /clients paged over the union of the nodes' clients (each with its
 * `node`), /stats with aggregate=true (sum) and false (one entry per node). A node that leaves
 * is forgotten by the others at once; a node killed with SIGKILL shows as stopped, the API
 * answers without it (partial, never a hang), and `force-leave` removes it.
 */

import type { MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { closeAll, connect, publish, runTag, subscribe } from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  takeReal,
  waitLog,
} from "./_helpers/cluster.ts";
import { culex } from "./_helpers/culex_cli.ts";
import { Api } from "./_helpers/api.ts";

const status = (running: string[], stopped: string[] = []) =>
  `Cluster status: #{running_nodes => [${running.map((n) => `'${n}'`).join(",")}],` +
  `stopped_nodes => [${stopped.map((n) => `'${n}'`).join(",")}]}`;

Deno.test(
  { name: "29 cluster2: manual join/leave/force-leave, the API across nodes" },
  async (t) => {
    const tag = runTag();
    const [pa, pb, pc] = freePorts(3) as [number, number, number];
    const nodes: ClusterNode[] = [];
    const dirs: string[] = [];
    const clients: MqttClient[] = [];
    const ctl = async (n: ClusterNode, ...words: string[]) => {
      const r = await culex(dirOf.get(n)!, ["ctl", ...words]);
      // A failing command prints on stderr.
      return { code: r.code, out: (r.code === 0 ? r.stdout : r.stderr).trimEnd() };
    };
    const dirOf = new Map<ClusterNode, string>();
    /** `cluster status` until it prints `want` (links and leaves take a moment to spread). */
    const awaitStatus = async (n: ClusterNode, want: string) => {
      let last = "";
      for (let i = 0; i < 60; i++) {
        last = (await ctl(n, "cluster", "status")).out;
        if (last === want) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.deepEqual(last, want, `${n.name}: cluster status`);
    };
    const client = async (n: ClusterNode, id: string) => {
      const c = await connect(n.url, { protocolVersion: 5, clientId: `${id}${tag}` });
      clients.push(c);
      return c;
    };
    try {
      const start = async (short: string, port: number, shards: number, dir?: string) => {
        const dataDir = dir ?? await Deno.makeTempDir({ prefix: "culex_29ops_" });
        if (!dir) dirs.push(dataDir);
        const n = await addNode(nodes, {
          short,
          clusterPort: port,
          strategy: "manual",
          shards,
          dataDir,
          listeners: ["http:dashboard"],
          sets: ["cluster.request_timeout=3s"],
        });
        dirOf.set(n, dataDir);
        return n;
      };
      const a = await start("a", pa, 1);
      const b = await start("b", pb, 2);
      let c = await start("c", pc, 1);
      const apis = new Map<ClusterNode, Api>();
      const apiOf = async (n: ClusterNode) => {
        let api = apis.get(n);
        if (!api) {
          api = new Api(n.broker.portOf("http:dashboard"));
          await api.asAdmin();
          apis.set(n, api);
        }
        return api;
      };

      await t.step("a manual node alone: status lists itself; bad join names refused", async () => {
        assert.deepEqual((await ctl(a, "cluster", "status")).out, status([a.name]));
        // EMQX 5.8 prints failures with its reason term and exits 0 (emqx_mgmt_cli:cluster/1);
        // a name without a host gets this node's (ekka_node:parse_name).
        const bad = await ctl(a, "cluster", "join", "nonsense");
        assert.deepEqual([bad.code, bad.out], [
          0,
          "Failed to join the cluster: {node_down,'nonsense@127.0.0.1'}",
        ]);
        assert.deepEqual(await ctl(a, "cluster", "leave"), {
          code: 0,
          out: "Failed to leave the cluster: node_not_in_cluster",
        });
        assert.deepEqual((await ctl(a, "cluster", "join", a.name)).out, "Ignore.");
      });

      await t.step("cluster join: A joins B, then C joins A and learns B from A", async () => {
        // By address: the name given (here not B's own) only labels the target.
        const joined = await ctl(a, "cluster", "join", `bee@127.0.0.1:${pb}`);
        assert.deepEqual(joined, {
          code: 0,
          out: `Join the cluster successfully.\n${status([a.name, b.name])}`,
        });
        assert.deepEqual((await ctl(c, "cluster", "join", `${a.name}:${pa}`)).code, 0);
        const all = status([a.name, b.name, c.name]);
        for (const n of [a, b, c]) await awaitStatus(n, all);
        assert.deepEqual(JSON.parse((await ctl(b, "cluster", "status", "--json")).out), {
          running_nodes: [a.name, b.name, c.name],
          stopped_nodes: [],
        });
      });

      await t.step("pub/sub across the joined nodes (B → C) [MQTT-4.6.0-5]", async () => {
        const pub = await client(b, "p29o");
        const sub = await client(c, "s29o");
        await subscribe(sub, `o29/${tag}/#`, { qos: 1 });
        await awaitRoute(pub, sub, `o29/${tag}/x`);
        for (const p of ["1", "2", "3"]) await publish(pub, `o29/${tag}/x`, p, { qos: 1 });
        assert.deepEqual((await takeReal(sub, 3, 5_000)).map((m) => m.payload), ["1", "2", "3"]);
      });

      await t.step("GET /cluster, /nodes, /nodes/{node} list every node", async () => {
        const api = await apiOf(b);
        const cl = await api.get("/cluster");
        assert.deepEqual(cl.status, 200);
        assert.deepEqual(cl.json, { name: "culex", nodes: [a.name, b.name, c.name], self: b.name });
        const list = await api.get("/nodes");
        assert.deepEqual(list.status, 200);
        assert.deepEqual(
          // deno-lint-ignore no-explicit-any
          list.json.map((n: any) => [n.node, n.node_status, n.version, typeof n.uptime]),
          [a.name, b.name, c.name].map((n) => [n, "running", "0.1.0", "number"]),
        );
        assert.deepEqual(list.json[1].shards, 2, "B's own answer (2 shards)");
        const one = await api.get(`/nodes/${c.name}`);
        assert.deepEqual([one.status, one.json.node, one.json.shards], [200, c.name, 1]);
        assert.deepEqual((await api.get("/nodes/zz@127.0.0.1")).status, 404);
      });

      await t.step("GET /clients pages over every node's clients, each with its node", async () => {
        // 2 on A, 3 on B (two shards), 1 on C; the API of C lists all six.
        const want = new Map<string, string>();
        for (const [n, k] of [[a, 2], [b, 3], [c, 1]] as const) {
          for (let i = 0; i < k; i++) {
            const id = `cl29-${n.name[0]}${i}-`;
            await client(n, id);
            want.set(`${id}${tag}`, n.name);
          }
        }
        const api = await apiOf(c);
        const got = new Map<string, string>();
        const like = `like_clientid=${encodeURIComponent(`-${tag}`)}`;
        for (let page = 1; page <= 10; page++) {
          const r = await api.get(`/clients?${like}&limit=4&page=${page}`);
          assert.deepEqual(r.status, 200);
          assert.deepEqual(r.json.meta.count, 6, "the count over the union");
          for (const x of r.json.data) got.set(x.clientid, x.node);
          if (!r.json.meta.hasnext) {
            assert.deepEqual(page, 2, "4 + 2 over two pages");
            break;
          }
        }
        assert.deepEqual(
          new Map([...got].sort()),
          new Map([...want].sort()),
          "every client, its node",
        );
        const onB = await api.get(`/clients?${like}&node=${encodeURIComponent(b.name)}`);
        assert.deepEqual(onB.json.meta.count, 3);
        // deno-lint-ignore no-explicit-any
        assert.ok(onB.json.data.every((x: any) => x.node === b.name), "node=B keeps B's clients");
      });

      await t.step("GET /stats: aggregate=false per node, aggregate=true the sum", async () => {
        const api = await apiOf(a);
        const per = await api.get("/stats?aggregate=false");
        assert.deepEqual(per.status, 200);
        // deno-lint-ignore no-explicit-any
        assert.deepEqual(per.json.map((s: any) => s.node), [a.name, b.name, c.name]);
        const sum = await api.get("/stats?aggregate=true");
        assert.deepEqual(sum.status, 200);
        assert.ok(!("node" in sum.json), "one summed object");
        // Connections may change between the two calls only if a client drops: none does here.
        const total = per.json.reduce(
          // deno-lint-ignore no-explicit-any
          (n: number, s: any) => n + s["connections.count"],
          0,
        );
        assert.deepEqual(sum.json["connections.count"], total);
        assert.ok(total >= 8, `8 clients connected in the steps above, got ${total}`);
        // Prometheus: one labelled series per node, or their sum (EMQX's mode).
        const perNode = await api.get("/prometheus/stats?mode=all_nodes_unaggregated", {
          as: null,
        });
        assert.equal(perNode.status, 200);
        const values = [a, b, c].map((n) => {
          const m = new RegExp(`^emqx_connections_count\\{node="${n.name}"\\} (\\d+)$`, "m")
            .exec(perNode.text);
          assert.ok(m, `a series for ${n.name}:\n${perNode.text.slice(0, 500)}`);
          return Number(m[1]);
        });
        assert.equal(values.reduce((x, y) => x + y, 0), total);
        const summed = await api.get("/prometheus/stats?mode=all_nodes_aggregated", { as: null });
        assert.match(summed.text, new RegExp(`^emqx_connections_count ${total}$`, "m"));
        assert.match(summed.text, /^emqx_cluster_nodes_running 3$/m);
        const onlyC = await api.get(`/stats?node=${encodeURIComponent(c.name)}`);
        // deno-lint-ignore no-explicit-any
        assert.deepEqual(onlyC.json.map((s: any) => s.node), [c.name]);
      });

      await t.step("a killed node that joined is linked again when it restarts", async () => {
        const dir = dirOf.get(c)!;
        c.broker.kill();
        await c.broker.stop();
        await waitLog(a, `node ${c.name} is down`, 10_000);
        await awaitStatus(a, status([a.name, b.name], [c.name]));
        c = await start("c", pc, 1, dir);
        // Its join was kept in its data directory: it dials A again itself.
        await waitLog(c, `dialling 1 nodes joined before: ${a.name}`, 5_000);
        const all = status([a.name, b.name, c.name]);
        for (const n of [a, b, c]) await awaitStatus(n, all);
      });

      await t.step("cluster leave: C leaves, A and B forget it at once", async () => {
        const left = await ctl(c, "cluster", "leave");
        assert.deepEqual(left, {
          code: 0,
          out: `Leave the cluster successfully.\n${status([c.name])}`,
        });
        for (const n of [a, b]) await awaitStatus(n, status([a.name, b.name]));
        await awaitStatus(c, status([c.name]));
        assert.deepEqual(await ctl(a, "cluster", "join", `${b.name}:${pb}`), {
          code: 0,
          out: `Failed to join the cluster: {already_in_cluster,'${b.name}'}`,
        });
      });

      await t.step("a killed node shows as stopped; the API answers without it", async () => {
        b.broker.kill();
        await waitLog(a, `node ${b.name} is down`, 10_000);
        await awaitStatus(a, status([a.name], [b.name]));
        const api = await apiOf(a);
        const list = await api.get("/nodes");
        assert.deepEqual(
          // deno-lint-ignore no-explicit-any
          list.json.map((n: any) => [n.node, n.node_status]),
          [[a.name, "running"], [b.name, "stopped"]],
        );
        const per = await api.get("/stats?aggregate=false");
        // deno-lint-ignore no-explicit-any
        assert.deepEqual(per.json.map((s: any) => s.node), [a.name]);
        const cl = await api.get(`/clients?like_clientid=${encodeURIComponent(`-${tag}`)}`);
        assert.deepEqual(cl.json.meta.count, 2, "A's own two clients");
      });

      await t.step("cluster force-leave removes the stopped node", async () => {
        const unknown = await ctl(a, "cluster", "force-leave", "zz@127.0.0.1");
        assert.deepEqual(unknown, {
          code: 0,
          out: "Failed to remove the node from cluster: node_not_in_cluster",
        });
        const r = await ctl(a, "cluster", "force-leave", b.name);
        assert.deepEqual(r, {
          code: 0,
          out: `Remove the node from cluster successfully.\n${status([a.name])}`,
        });
        // A's join of B (by address, under B's real name once linked) is forgotten too.
        const kept = JSON.parse(await Deno.readTextFile(`${dirOf.get(a)}/cluster_joined.json`));
        assert.deepEqual(kept, { joined: [] });
      });
    } finally {
      await closeAll(clients);
      await Promise.all(nodes.map((n) => n.broker.stop()));
      for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  },
);
