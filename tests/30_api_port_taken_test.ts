/**
 * Integration suite 30 (a bad config stops a node before it listens or joins, issue 15): a node
 * whose HTTP API port (`dashboard.listeners.http.bind`) is taken, configured with the seed of a
 * running node, exits non-zero naming the key, before any MQTT listener opens and before its
 * cluster starts; the same with its MQTT port (`listeners.tcp.default.bind`) or its cluster port
 * (`cluster.listen`) taken: the running node never sees a link from it (`ctl cluster status` and
 * GET /api/v5/cluster list only itself). The same node with the port free then joins (so the
 * check above would have seen a link), and its API answers on the port it bound first.
 */

import assert from "node:assert/strict";
import {
  freePorts,
  type NodeOptions,
  seedOf,
  startNode,
  startNodeExpectingExit,
  waitUp,
} from "./_helpers/cluster.ts";
import { ctl } from "./_helpers/culex_cli.ts";
import { Api } from "./_helpers/api.ts";

const status = (running: string[]) =>
  `Cluster status: #{running_nodes => [${running.map((n) => `'${n}'`).join(",")}],` +
  `stopped_nodes => []}`;

Deno.test("30 api port taken: the node exits before it listens or joins", async () => {
  const [pa, pb, apiPort] = freePorts(3) as [number, number, number];
  const dirA = await Deno.makeTempDir({ prefix: "culex_30_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "culex_30_b_" });
  const a = await startNode({
    short: "a",
    clusterPort: pa,
    dataDir: dirA,
    listeners: ["http:dashboard"],
  });
  let b: Awaited<ReturnType<typeof startNode>> | null = null;
  // The port the second node's API wants, taken by someone else.
  let squatter: Deno.Listener | null = Deno.listen({ hostname: "127.0.0.1", port: apiPort });
  try {
    const bName = "b@127.0.0.1";
    // Node b as it will join A at the end; each start below takes one port that is in use.
    const nodeB: NodeOptions = {
      short: "b",
      clusterPort: pb,
      seeds: [seedOf(a)],
      shards: 1,
      dataDir: dirB,
    };
    const { code, out } = await startNodeExpectingExit({
      ...nodeB,
      sets: [`dashboard.listeners.http.bind=127.0.0.1:${apiPort}`, "log.level=debug"],
    });
    assert.notEqual(code, 0, `exit code:\n${out}`);
    assert.match(out, /dashboard\.listeners\.http\.bind: cannot listen on 127\.0\.0\.1:\d+/, out);
    assert.doesNotMatch(out, /Listener tcp:default listening/, "no MQTT listener opened");
    assert.doesNotMatch(out, /culex\.cluster|a@127/, "the cluster did not start");
    // The cluster port was never opened: a dial to it is refused.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: pb }));

    // The same with the MQTT listener's port taken (the cluster starts before the MQTT
    // listeners, which need it: the port is probed first).
    const mqttTaken = await startNodeExpectingExit({
      ...nodeB,
      sets: [`listeners.tcp.default.bind=127.0.0.1:${apiPort}`],
    });
    assert.notEqual(mqttTaken.code, 0, `exit code:\n${mqttTaken.out}`);
    assert.match(
      mqttTaken.out,
      /listeners\.tcp\.default\.bind: cannot listen on 127\.0\.0\.1:\d+/,
      mqttTaken.out,
    );
    assert.doesNotMatch(mqttTaken.out, /culex\.cluster|a@127/, "the cluster did not start");

    // The same with the cluster port taken: the error names cluster.listen, no MQTT listener.
    const clusterTaken = await startNodeExpectingExit({ ...nodeB, clusterPort: apiPort });
    assert.notEqual(clusterTaken.code, 0, `exit code:\n${clusterTaken.out}`);
    assert.match(
      clusterTaken.out,
      /cluster\.listen: cannot listen on 127\.0\.0\.1:\d+/,
      clusterTaken.out,
    );
    assert.doesNotMatch(clusterTaken.out, /Listener tcp:default listening/, "no MQTT listener");

    // A never saw B: its status and its API list only itself, its log never names B.
    assert.equal((await ctl(dirA, "cluster", "status")).trimEnd(), status([a.name]));
    const apiA = new Api(a.broker.portOf("http:dashboard"));
    await apiA.asAdmin();
    const cl = await apiA.get("/cluster");
    assert.deepEqual([cl.status, cl.json.nodes], [200, [a.name]]);
    assert.doesNotMatch(a.broker.logs(), new RegExp(bName.replace(".", "\\.")));

    // Control: with the port free, the same node joins A (the checks above would see it) and
    // its API answers on that port.
    squatter.close();
    squatter = null;
    b = await startNode({
      ...nodeB,
      listeners: ["http:dashboard"],
      sets: [`dashboard.listeners.http.bind=127.0.0.1:${apiPort}`],
    });
    await waitUp(a, [bName]);
    assert.equal(b.broker.portOf("http:dashboard"), apiPort);
    const apiB = new Api(apiPort);
    await apiB.asAdmin();
    const clB = await apiB.get("/cluster");
    assert.deepEqual([clB.status, clB.json.nodes], [200, [a.name, bName]]);
  } finally {
    squatter?.close();
    if (b) assert.equal(await b.broker.stop(), 0);
    assert.equal(await a.broker.stop(), 0);
    await Deno.remove(dirA, { recursive: true }).catch(() => {});
    await Deno.remove(dirB, { recursive: true }).catch(() => {});
  }
});
