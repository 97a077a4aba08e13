/**
 * Integration suite 29 (mcast discovery): two real Culex nodes with
 * `cluster.discovery_strategy = mcast` find each other by UDP multicast on the loopback interface
 * (`cluster.mcast.iface = 127.0.0.1`, a group and port of this run), link, and carry a publish.
 * Datagrams sent to the group by the test itself (node:dgram) without a signature, with a
 * signature under another cookie, or malformed are ignored and logged once per sender and
 * reason, and never dialled. The multicast group is joined on 127.0.0.1 (IP_MULTICAST_LOOP):
 * checked to work in this sandbox's kernel.
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import dgram from "node:dgram";
import type { MqttClient } from "mqtt";
import { closeAll, runTag } from "./_helpers/clients.ts";
import {
  addNode,
  type ClusterNode,
  crossNodeDelivery,
  freePorts,
  startNode,
  waitLog,
} from "./_helpers/cluster.ts";

/** A free UDP port on 127.0.0.1 (bound then released). */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function countOf(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

Deno.test(
  { name: "29 cluster2: mcast discovery on loopback, signed announcements only" },
  async (t) => {
    const tag = runTag();
    const [pa, pb] = freePorts(2) as [number, number];
    const udp = await freeUdpPort();
    // A group of this run only: parallel runs must not hear each other.
    const group = `239.255.${1 + Math.floor(Math.random() * 250)}.${
      1 + Math.floor(Math.random() * 250)
    }`;
    const sets = [
      `cluster.mcast.addr=${group}`,
      `cluster.mcast.ports=${udp}`,
      "cluster.mcast.iface=127.0.0.1",
      "cluster.mcast.ttl=1",
      "cluster.discovery_interval=500ms",
    ];
    const nodes: ClusterNode[] = [];
    const clients: MqttClient[] = [];
    const rogue = dgram.createSocket({ type: "udp4", reuseAddr: true });
    try {
      const a = await addNode(nodes, {
        short: "a",
        clusterPort: pa,
        strategy: "mcast",
        shards: 1,
        sets,
      });
      const b = await addNode(nodes, {
        short: "b",
        clusterPort: pb,
        strategy: "mcast",
        shards: 1,
        sets,
      });

      await t.step("the nodes find each other by their announcements and link", async () => {
        const ids = { pub: `p29m${tag}`, sub: `s29m${tag}` };
        const got = await crossNodeDelivery(a, b, `m29/${tag}`, "over-mcast", ids, clients);
        assert.deepEqual(got, ["over-mcast"]);
      });

      await t.step(
        "unsigned, wrongly signed and malformed announcements: ignored, logged once",
        async () => {
          await new Promise<void>((resolve) => rogue.bind(0, "127.0.0.1", () => resolve()));
          rogue.setMulticastInterface("127.0.0.1");
          rogue.setMulticastLoopback(true);
          const rogueName = `rogue@127.0.0.1`;
          const body = JSON.stringify({
            cluster: "culex",
            node: rogueName,
            address: "127.0.0.1:9",
            at: Date.now(),
          });
          const wrong = createHmac("sha256", "not-the-cookie").update(body).digest("hex");
          const datagrams = [
            `CULEX-MCAST/1\n${body}`, // unsigned
            `CULEX-MCAST/1\n${body}\n${wrong}`, // another key
            "hello", // malformed
          ];
          for (let round = 0; round < 3; round++) {
            for (const d of datagrams) {
              await new Promise<void>((resolve, reject) =>
                rogue.send(d, udp, group, (err) => (err ? reject(err) : resolve()))
              );
            }
          }
          const from = `127.0.0.1:${rogue.address().port}`;
          for (const reason of ["unsigned", "wrong signature", "malformed"]) {
            const line = `ignored an announcement from ${from}: ${reason}`;
            await waitLog(a, line, 10_000);
            await waitLog(b, line, 10_000);
          }
          // The node's own announcements keep coming meanwhile; no second line per reason.
          await waitLog(a, `node ${b.name} is up`);
          for (const n of [a, b]) {
            for (const reason of ["unsigned", "wrong signature", "malformed"]) {
              const line = `ignored an announcement from ${from}: ${reason}`;
              assert.equal(countOf(n.broker.logs(), line), 1, `${n.name}: "${line}" once`);
            }
            assert.ok(
              !n.broker.logs().includes("127.0.0.1:9"),
              "the rogue address is never dialled",
            );
          }
        },
      );
      await t.step("an interface that is not local stops the start, naming the key", async () => {
        await assert.rejects(
          startNode({
            short: "x",
            clusterPort: freePorts(1)[0]!,
            strategy: "mcast",
            shards: 1,
            sets: [...sets, "cluster.mcast.iface=10.255.255.1"],
          }),
          /cluster\.mcast: cannot join 239\.255\.\d+\.\d+ on interface 10\.255\.255\.1/,
        );
      });
    } finally {
      await new Promise<void>((resolve) => rogue.close(() => resolve())).catch(() => {});
      await closeAll(clients);
      await Promise.all(nodes.map((n) => n.broker.stop()));
    }
  },
);
