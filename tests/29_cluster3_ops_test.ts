/**
 * Integration suite 29 (cluster3, issue 15): one client's operations answered on any node, as
 * EMQX answers them (emqx_mgmt_api_clients, emqx_mgmt_cli): two real Culex nodes by static seeds,
 * a client connected to B, and A's HTTP API and `culex ctl` (a real `culex` process on A's
 * control socket) show it, list and change its subscriptions, and kick it; 404
 * CLIENTID_NOT_FOUND only when no node has the id. `ctl topics list|show` and `GET /topics` list
 * every node's routes, each with its node; `GET /subscriptions` lists every node's subscriptions
 * (EMQX asks every node).
 */

import type { MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { closeAll, connect, publish, runTag, subscribe, waitClosed } from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  takeReal,
  waitUp,
} from "./_helpers/cluster.ts";
import { culex } from "./_helpers/culex_cli.ts";
import { Api } from "./_helpers/api.ts";

Deno.test({ name: "29 cluster3: one client's operations on any node" }, async (t) => {
  const tag = runTag();
  const [pa, pb] = freePorts(2) as [number, number];
  const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
  const nodes: ClusterNode[] = [];
  const dirs: string[] = [];
  const clients: MqttClient[] = [];
  const dirOf = new Map<ClusterNode, string>();
  const ctl = async (n: ClusterNode, ...words: string[]) => {
    const r = await culex(dirOf.get(n)!, ["ctl", ...words]);
    return { code: r.code, out: (r.code === 0 ? r.stdout : r.stderr).trimEnd() };
  };
  try {
    const start = async (short: string, port: number) => {
      const dataDir = await Deno.makeTempDir({ prefix: "culex_29c3_" });
      dirs.push(dataDir);
      const n = await addNode(nodes, {
        short,
        clusterPort: port,
        seeds,
        shards: 2,
        dataDir,
        listeners: ["http:dashboard"],
        sets: ["cluster.request_timeout=3s"],
      });
      dirOf.set(n, dataDir);
      return n;
    };
    const a = await start("a", pa);
    const b = await start("b", pb);
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    const api = new Api(a.broker.portOf("http:dashboard"));
    await api.asAdmin();

    const xid = `x29c3-${tag}`;
    const x = await connect(b.url, { protocolVersion: 5, clientId: xid });
    clients.push(x);
    const pub = await connect(a.url, { protocolVersion: 5, clientId: `p29c3-${tag}` });
    clients.push(pub);
    const base = `c3/${tag}`;
    await subscribe(x, `${base}/own/#`, { qos: 1 });
    const path = `/clients/${encodeURIComponent(xid)}`;

    await t.step("GET /clients/{id} on A answers for B's client, with its node", async () => {
      const r = await api.get(path);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.clientid, xid);
      assert.equal(r.json.node, b.name);
      assert.equal(r.json.connected, true);
      const none = await api.get(`/clients/nobody-${tag}`);
      assert.deepEqual([none.status, none.json?.code], [404, "CLIENTID_NOT_FOUND"]);
      assert.deepEqual(await ctl(a, "clients", "show", `nobody-${tag}`), {
        code: 0,
        out: "Not Found.",
      });
      const shown = await ctl(a, "clients", "show", xid);
      assert.equal(shown.code, 0);
      assert.match(shown.out, new RegExp(`^Client\\(${xid}, .*subscriptions=1,`));
    });

    await t.step("its subscriptions, subscribe and unsubscribe from A [MQTT-3.8.4-1]", async () => {
      const subs = await api.get(`${path}/subscriptions`);
      assert.equal(subs.status, 200, subs.text);
      // deno-lint-ignore no-explicit-any
      assert.deepEqual(subs.json.map((s: any) => [s.topic, s.qos]), [[`${base}/own/#`, 1]]);
      const one = await api.post(`${path}/subscribe`, { topic: `${base}/api`, qos: 1 });
      assert.equal(one.status, 200, one.text);
      assert.deepEqual([one.json.clientid, one.json.topic, one.json.qos], [xid, `${base}/api`, 1]);
      const bulk = await api.post(`${path}/subscribe/bulk`, [
        { topic: `${base}/bulk1`, qos: 0 },
        { topic: `${base}/bulk2`, qos: 2 },
      ]);
      assert.equal(bulk.status, 200, bulk.text);
      // deno-lint-ignore no-explicit-any
      assert.deepEqual(bulk.json.map((s: any) => [s.topic, s.qos]), [
        [`${base}/bulk1`, 0],
        [`${base}/bulk2`, 2],
      ]);
      // The subscription made through A's API is B's client's: a publish on A reaches it.
      await awaitRoute(pub, x, `${base}/api`);
      await publish(pub, `${base}/api`, "via-api", { qos: 1 });
      assert.deepEqual((await takeReal(x, 1, 5_000)).map((m) => m.payload), ["via-api"]);
      const shown = await ctl(a, "subscriptions", "show", xid);
      assert.equal(shown.code, 0);
      assert.ok(shown.out.includes(`${xid} -> topic:${base}/bulk2 qos:2`), shown.out);
      assert.deepEqual(await ctl(a, "subscriptions", "add", xid, `${base}/ctl`, "1"), {
        code: 0,
        out: "ok",
      });
      assert.deepEqual(await ctl(a, "subscriptions", "del", xid, `${base}/bulk1`), {
        code: 0,
        out: "ok",
      });
      const un = await api.post(`${path}/unsubscribe`, { topic: `${base}/api` });
      assert.equal(un.status, 204, un.text);
      const after = await api.get(`${path}/subscriptions`);
      // deno-lint-ignore no-explicit-any
      assert.deepEqual(after.json.map((s: any) => s.topic).sort(), [
        `${base}/bulk2`,
        `${base}/ctl`,
        `${base}/own/#`,
      ]);
      const missing = await api.post(`/clients/nobody-${tag}/subscribe`, { topic: "x" });
      assert.deepEqual([missing.status, missing.json?.code], [404, "CLIENTID_NOT_FOUND"]);
      assert.deepEqual(await ctl(a, "subscriptions", "del", `nobody-${tag}`, "x"), {
        code: 1,
        out: "Error: Channel not found!",
      });
    });

    await t.step("ctl topics and GET /topics list every node's routes with the node", async () => {
      const local = await connect(a.url, { protocolVersion: 5, clientId: `l29c3-${tag}` });
      clients.push(local);
      await subscribe(local, `${base}/onA`, { qos: 0 });
      const want = [`${base}/onA -> ${a.name}`, `${base}/own/# -> ${b.name}`];
      let lines: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await ctl(a, "topics", "list");
        lines = r.out.split("\n").filter((l) => l.startsWith(`${base}/`));
        if (want.every((w) => lines.includes(w))) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const w of want) assert.ok(lines.includes(w), `${w} in ${lines.join(" | ")}`);
      assert.deepEqual(await ctl(a, "topics", "show", `${base}/own/#`), {
        code: 0,
        out: `${base}/own/# -> ${b.name}`,
      });
      const enc = encodeURIComponent(`${base}/own/#`);
      const r = await api.get(`/topics?topic=${enc}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data, [{ topic: `${base}/own/#`, node: b.name }]);
      const onA = await api.get(`/topics?node=${encodeURIComponent(a.name)}&limit=1000`);
      // deno-lint-ignore no-explicit-any
      assert.ok(onA.json.data.every((x: any) => x.node === a.name), "node= keeps one node");
      const one = await api.get(`/topics/${enc}`);
      assert.deepEqual([one.status, one.json], [200, [{ topic: `${base}/own/#`, node: b.name }]]);
    });

    await t.step(
      "GET /subscriptions on A lists every node's subscriptions, node= keeps one",
      async () => {
        // deno-lint-ignore no-explicit-any
        const rows = (r: any) =>
          // deno-lint-ignore no-explicit-any
          r.json.data.filter((x: any) => String(x.topic).startsWith(`${base}/`))
            // deno-lint-ignore no-explicit-any
            .map((x: any) => `${x.topic} ${x.clientid} ${x.node}`).sort();
        const all = await api.get("/subscriptions?limit=1000");
        assert.equal(all.status, 200, all.text);
        assert.deepEqual(rows(all), [
          `${base}/bulk2 ${xid} ${b.name}`,
          `${base}/ctl ${xid} ${b.name}`,
          `${base}/onA l29c3-${tag} ${a.name}`,
          `${base}/own/# ${xid} ${b.name}`,
        ]);
        const onB = await api.get(`/subscriptions?limit=1000&node=${encodeURIComponent(b.name)}`);
        assert.deepEqual(rows(onB), rows(all).filter((r: string) => r.endsWith(b.name)));
        const mine = await api.get(`/subscriptions?clientid=${encodeURIComponent(xid)}&limit=2`);
        assert.deepEqual([mine.json.meta.count, mine.json.data.length, mine.json.meta.hasnext], [
          3,
          2,
          true,
        ]);
        const second = await api.get(
          `/subscriptions?clientid=${encodeURIComponent(xid)}&limit=2&page=2`,
        );
        assert.equal(second.json.data.length, 1, "the last page");
        const matching = await api.get(
          `/subscriptions?match_topic=${encodeURIComponent(`${base}/own/z`)}`,
        );
        // deno-lint-ignore no-explicit-any
        assert.deepEqual(matching.json.data.map((x: any) => x.node), [b.name], "match_topic");
      },
    );

    await t.step("DELETE /clients/{id} on A kicks B's client; then 404 everywhere", async () => {
      const r = await api.delete(path);
      assert.equal(r.status, 204, r.text);
      await waitClosed(x, 5_000);
      assert.equal((await api.get(path)).status, 404);
      assert.equal((await api.delete(path)).status, 404);
      // ctl clients kick of a client on B, from A.
      const yid = `y29c3-${tag}`;
      const y = await connect(b.url, { protocolVersion: 5, clientId: yid });
      clients.push(y);
      assert.deepEqual(await ctl(a, "clients", "kick", yid), { code: 0, out: "ok" });
      await waitClosed(y, 5_000);
    });
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.broker.stop();
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});
