// etcd discovery against a stand-in etcd (the v3 JSON API's lease and kv calls) that fails
// chosen requests: a failed registration is tried again, so the node does not stay out of etcd.
// tests/29_discovery_test.ts runs the real etcd.
import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { startDiscovery, type TargetSink } from "./discovery.ts";
import type { Target } from "./cluster.ts";

/** A stand-in etcd: leases, puts with a lease, range; the first `failPuts` puts answer 503. */
function standInEtcd(failPuts: number) {
  const keys = new Map<string, { value: string; lease: string }>();
  const kept: string[] = [];
  let nextLease = 1;
  let puts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json() as Record<string, string>;
    switch (new URL(req.url).pathname) {
      case "/v3/lease/grant":
        return Response.json({ ID: String(nextLease++), TTL: body.TTL });
      case "/v3/lease/keepalive":
        kept.push(body.ID!);
        return Response.json({ result: { ID: body.ID, TTL: "6" } });
      case "/v3/kv/put":
        if (++puts <= failPuts) {
          return Response.json({ error: "etcdserver: timeout" }, { status: 503 });
        }
        keys.set(body.key!, { value: body.value!, lease: body.lease! });
        return Response.json({});
      case "/v3/kv/range":
        return Response.json({ kvs: [...keys].map(([key, { value }]) => ({ key, value })) });
      default:
        return Response.json({});
    }
  });
  return { server, keys, kept, puts: () => puts };
}

Deno.test("etcd discovery puts its key again after a put failed, on a lease it keeps alive", async () => {
  const etcd = standInEtcd(1);
  const config = loadConfig({
    sets: [
      "node.name=a@127.0.0.1",
      "cluster.discovery_strategy=etcd",
      `cluster.etcd.server=http://127.0.0.1:${etcd.server.addr.port}`,
      "cluster.etcd.prefix=t",
      "cluster.etcd.node_ttl=3s", // keepalive every second
      "cluster.discovery_interval=500ms",
    ],
    env: {},
  });
  let proposed: readonly Target[] = [];
  const sink: TargetSink = { setTargets: (t) => void (proposed = t) };
  const discovery = startDiscovery(config, sink, 4370);
  try {
    for (let i = 0; i < 100 && proposed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(etcd.puts() >= 2, "the failed put was tried again");
    assert.deepEqual(proposed, [{ name: "a@127.0.0.1", address: "127.0.0.1:4370" }]);
    const entry = [...etcd.keys.values()][0];
    assert.ok(entry, "the node's key is in etcd");
    // The lease renewed is the one the key is on (not the first one, granted for the failed put).
    for (let i = 0; i < 100 && etcd.kept.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(etcd.kept[0], entry.lease, "the key's lease is kept alive");
  } finally {
    await discovery.stop();
    await etcd.server.shutdown();
  }
});
