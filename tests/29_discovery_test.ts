/**
 * Integration suite 29 (discovery): real Culex nodes find each other through a real DNS server
 * (Debian's dnsmasq on a random port: A records, then SRV records with the ports) and through a
 * real etcd (Debian's etcd-server on random ports, v3 JSON API with leases). Each case ends with a
 * message published on one node and received on another (the links carry routes).
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import { closeAll, runTag } from "./_helpers/clients.ts";
import { addNode, type ClusterNode, crossNodeDelivery, freePorts } from "./_helpers/cluster.ts";

/** A child process the test started, stopped at the end. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  await child.status;
}

async function startDnsmasq(
  port: number,
  records: string[],
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("dnsmasq", {
    args: [
      "--no-daemon",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--user=root",
      "--pid-file=",
      "--conf-file=/dev/null", // not the system's /etc/dnsmasq.conf
      ...records,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Ready when it answers (bounded).
  for (let i = 0; i < 100; i++) {
    try {
      await Deno.resolveDns("ready.culex.test", "A", { nameServer: { ipAddr: "127.0.0.1", port } });
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stopChild(child);
  throw new Error("dnsmasq did not answer");
}

/** Both nodes linked; a publish on `from` is received on `to`: the link carries routes and messages. */
async function messageCrosses(from: ClusterNode, to: ClusterNode, tag: string): Promise<void> {
  const clients: MqttClient[] = [];
  try {
    const ids = { pub: `p29d${tag}`, sub: `s29d${tag}` };
    const got = await crossNodeDelivery(from, to, `d29/${tag}/x`, "found", ids, clients);
    assertEquals(got, ["found"], "crossed");
  } finally {
    await closeAll(clients);
  }
}

Deno.test({ name: "29 discovery: dns A and SRV records from dnsmasq" }, async (t) => {
  const tag = runTag();
  const dir = await Deno.makeTempDir({ prefix: "culex_test_dns_" });
  // A: two nodes on two loopback addresses, both on the same cluster port (EMQX's habit).
  await Deno.writeTextFile(
    `${dir}/hosts`,
    "127.0.0.2 nodes.culex.test\n127.0.0.3 nodes.culex.test\n",
  );
  const [dnsPort, shared, p1, p2] = freePorts(4) as [number, number, number, number];
  const dns = await startDnsmasq(dnsPort, [
    "--host-record=ready.culex.test,127.0.0.1",
    `--addn-hosts=${dir}/hosts`,
    // SRV: two nodes on one address, the ports in the records.
    "--host-record=srv1.culex.test,127.0.0.1",
    `--srv-host=_culex._tcp.culex.test,srv1.culex.test,${p1}`,
    `--srv-host=_culex._tcp.culex.test,srv1.culex.test,${p2}`,
  ]).catch(async (err) => {
    await Deno.remove(dir, { recursive: true });
    throw err;
  });
  const nodes: ClusterNode[] = [];
  try {
    await t.step("record_type a: two nodes found by one name", async () => {
      const sets = [
        "cluster.dns.name=nodes.culex.test",
        "cluster.dns.record_type=a",
        `cluster.dns.nameservers=127.0.0.1:${dnsPort}`,
        "cluster.discovery_interval=500ms",
      ];
      const a = await addNode(nodes, {
        short: "a",
        host: "127.0.0.2",
        clusterPort: shared,
        strategy: "dns",
        sets,
        shards: 1,
      });
      const b = await addNode(nodes, {
        short: "b",
        host: "127.0.0.3",
        clusterPort: shared,
        strategy: "dns",
        sets,
        shards: 1,
      });
      await messageCrosses(a, b, `${tag}a`);
    });

    await t.step("record_type srv: the ports come from the records", async () => {
      const sets = [
        "cluster.dns.name=_culex._tcp.culex.test",
        "cluster.dns.record_type=srv",
        `cluster.dns.nameservers=127.0.0.1:${dnsPort}`,
        "cluster.discovery_interval=500ms",
      ];
      // One shard each, found only through dns.
      const join = (short: string, clusterPort: number) =>
        addNode(nodes, { short, clusterPort, strategy: "dns", sets, shards: 1 });
      const c = await join("c", p1);
      const d = await join("d", p2);
      await messageCrosses(d, c, `${tag}s`);
    });
  } finally {
    await Promise.all(nodes.map((n) => n.broker.stop()));
    await stopChild(dns);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({ name: "29 discovery: etcd (v3 JSON API, leases)" }, async () => {
  const tag = runTag();
  const dir = await Deno.makeTempDir({ prefix: "culex_test_etcd_" });
  const [client, peer, pa, pb] = freePorts(4) as [number, number, number, number];
  const endpoint = `http://127.0.0.1:${client}`;
  const etcd = new Deno.Command("etcd", {
    args: [
      "--data-dir",
      `${dir}/data`,
      "--listen-client-urls",
      endpoint,
      "--advertise-client-urls",
      endpoint,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `default=http://127.0.0.1:${peer}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const nodes: ClusterNode[] = [];
  try {
    // A deadline, not a count of tries: a loaded machine starts etcd slowly (its first WAL
    // syncs, then its election), and each refused try is fast.
    let ready = false;
    for (const deadline = Date.now() + 30_000; !ready && Date.now() < deadline;) {
      ready = await fetch(`${endpoint}/health`).then((r) => r.json()).then(
        (j: { health?: string }) => j.health === "true",
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(ready, true, "etcd answers /health");
    const sets = [
      `cluster.etcd.server=${endpoint}`,
      "cluster.etcd.prefix=culextest",
      "cluster.etcd.node_ttl=6s",
      "cluster.discovery_interval=500ms",
    ];
    // One shard each, found only through etcd.
    const join = (short: string, clusterPort: number) =>
      addNode(nodes, { short, clusterPort, strategy: "etcd", sets, shards: 1 });
    const a = await join("a", pa);
    const b = await join("b", pb);
    await messageCrosses(a, b, tag);
    // Each node's key is in etcd under the prefix, with its cluster address. The link needs only
    // one node to find the other, so a key whose put failed (etcd slow under load) can come a
    // discovery round later: wait for both (bounded).
    const key = btoa("culextest/culex/nodes/");
    const end = btoa("culextest/culex/nodes0");
    let entries: string[] = [];
    for (const deadline = Date.now() + 15_000; entries.length < 2 && Date.now() < deadline;) {
      const range = await fetch(`${endpoint}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key, range_end: end }),
      }).then((r) => r.json()) as { kvs?: { key: string; value: string }[] };
      entries = (range.kvs ?? []).map((kv) => `${atob(kv.key)}=${atob(kv.value)}`).sort();
      if (entries.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(entries, [
      `culextest/culex/nodes/a@127.0.0.1=127.0.0.1:${pa}`,
      `culextest/culex/nodes/b@127.0.0.1=127.0.0.1:${pb}`,
    ], "one key per node");
  } finally {
    await Promise.all(nodes.map((n) => n.broker.stop()));
    await stopChild(etcd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "29 discovery: k8s Endpoints API (a stand-in server, no real cluster)" },
  async () => {
    const tag = runTag();
    const [port] = freePorts(1) as [number];
    const asked: string[] = [];
    // The Endpoints object of a two-pod service, as the Kubernetes API answers it.
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      asked.push(new URL(req.url).pathname);
      return Response.json({
        kind: "Endpoints",
        metadata: { name: "culex", namespace: "mqtt" },
        subsets: [{
          addresses: [{ ip: "127.0.0.2" }, { ip: "127.0.0.3" }],
          ports: [{ name: "cluster", port, protocol: "TCP" }],
        }],
      });
    });
    const nodes: ClusterNode[] = [];
    try {
      const sets = [
        `cluster.k8s.apiserver=http://127.0.0.1:${server.addr.port}`,
        "cluster.k8s.service_name=culex",
        "cluster.k8s.namespace=mqtt",
        "cluster.discovery_interval=500ms",
      ];
      const a = await addNode(nodes, {
        short: "a",
        host: "127.0.0.2",
        clusterPort: port,
        strategy: "k8s",
        sets,
        shards: 1,
      });
      const b = await addNode(nodes, {
        short: "b",
        host: "127.0.0.3",
        clusterPort: port,
        strategy: "k8s",
        sets,
        shards: 1,
      });
      await messageCrosses(b, a, tag);
      assertEquals(asked[0], "/api/v1/namespaces/mqtt/endpoints/culex", "the Endpoints API path");
    } finally {
      await Promise.all(nodes.map((n) => n.broker.stop()));
      await server.shutdown();
    }
  },
);
