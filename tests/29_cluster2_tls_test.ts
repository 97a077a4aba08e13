/**
 * Integration suite 29 (TLS node links): real Culex nodes with `cluster.ssl_options` (mutual
 * TLS: `verify_peer`, `fail_if_no_peer_cert`, certificates from a throw-away CA made with
 * openssl) link and carry a publish; a node without TLS, and a node whose certificate comes from
 * another CA, are refused by the TLS handshake before any cookie is exchanged, and the refusal
 * is logged.
 */

import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { closeAll, runTag } from "./_helpers/clients.ts";
import { makeCerts, makeNodeCert, type TestCerts } from "./_helpers/certs.ts";
import {
  addNode,
  type ClusterNode,
  crossNodeDelivery,
  freePorts,
  seedOf,
  startNodeExpectingExit,
  waitLog,
} from "./_helpers/cluster.ts";

Deno.test({ name: "29 cluster2: node links over mutual TLS" }, async (t) => {
  const tag = runTag();
  const [pa, pb, pc, pd] = freePorts(4) as [number, number, number, number];
  let certs: TestCerts | null = null;
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  try {
    certs = await makeCerts();
    const tlsSets = (cert: { cert: string; key: string }, ca: string) => [
      `cluster.ssl_options.certfile=${cert.cert}`,
      `cluster.ssl_options.keyfile=${cert.key}`,
      `cluster.ssl_options.cacertfile=${ca}`,
      "cluster.ssl_options.verify=verify_peer",
      "cluster.ssl_options.fail_if_no_peer_cert=true",
    ];
    const na = await makeNodeCert(certs, "node-a");
    const nb = await makeNodeCert(certs, "node-b");
    const a = await addNode(nodes, {
      short: "a",
      clusterPort: pa,
      strategy: "manual",
      shards: 1,
      sets: tlsSets(na, certs.caFile),
    });
    // Every other node: one shard, seeded with A.
    const joinA = (short: string, clusterPort: number, sets: string[] = []) =>
      addNode(nodes, { short, clusterPort, seeds: [seedOf(a)], shards: 1, sets });
    const b = await joinA("b", pb, tlsSets(nb, certs.caFile));

    await t.step("two TLS nodes link and carry a publish", async () => {
      const ids = { pub: `p29t${tag}`, sub: `s29t${tag}` };
      const got = await crossNodeDelivery(b, a, `t29tls/${tag}`, "over-tls", ids, clients);
      assert.deepEqual(got, ["over-tls"]);
    });

    await t.step("a node without TLS is refused by the handshake", async () => {
      const c = await joinA("c", pc);
      await waitLog(a, "Cluster: refused the link from 127.0.0.1:", 15_000);
      assert.ok(!a.broker.logs().includes(`node ${c.name} is up`), "no link to the plain node");
    });

    await t.step("a node with a certificate of another CA is refused", async () => {
      const refusal = "Cluster: refused the link from 127.0.0.1:";
      const before = a.broker.logs().split(refusal).length - 1;
      const nd = await makeNodeCert(certs!, "node-d", true);
      const d = await joinA("d", pd, tlsSets(nd, certs!.otherCaFile));
      // Logged once per address, reason and minute: d's reason is not c's.
      await waitLog(a, refusal, 15_000, before + 1);
      assert.ok(!a.broker.logs().includes(`node ${d.name} is up`), "no link to d");
      assert.ok(!d.broker.logs().includes(`node ${a.name} is up`), "no link from d");
    });
    await t.step("an unreadable certificate file is a config error naming the key", async () => {
      const r = await startNodeExpectingExit({
        short: "x",
        clusterPort: freePorts(1)[0]!,
        strategy: "manual",
        shards: 1,
        sets: tlsSets({ cert: `${certs!.dir}/missing.pem`, key: na.key }, certs!.caFile),
      });
      // Checked before the store opens or any port binds (exit 2, as every config error).
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /Invalid config: cluster\.ssl_options\.certfile: cannot read/);
      assert.doesNotMatch(r.out, /is up|listening on/);
    });
  } finally {
    await closeAll(clients);
    await Promise.all(nodes.map((n) => n.broker.stop()));
    await certs?.remove();
  }
});
