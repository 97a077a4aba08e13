/**
 * Integration suite 29, route before SUBACK across nodes (`cluster.route_sync = sync`, the
 * default; docs/cluster.md): two real Culex nodes on 127.0.0.1, npm:mqtt clients. A subscriber
 * on B gets its SUBACK only once A's shards have the new route, so a message published on A right
 * after the SUBACK reaches it, every time, with no probe messages first: a subscription is in
 * force when the server sends SUBACK [MQTT-3.8.4-3 .. -5 and 3.9: "the Server MUST" start
 * sending matching messages]. B reaches A through a TCP proxy here that holds B → A bytes for
 * 300 ms (order kept), so B's route travels slower than the clients' packets: without the sync
 * the first messages would be published on A before A knew the route.
 */

import type { MqttClient } from "mqtt";
import { connect as tcpConnect, createServer, type Server } from "node:net";
import { assertEquals } from "./_helpers/assert.ts";
import { closeAll, connect, publish, runTag, subscribe } from "./_helpers/clients.ts";
import { addNode, type ClusterNode, freePorts, takeReal, waitUp } from "./_helpers/cluster.ts";

/** A TCP proxy to `target` that delays the bytes toward it by `ms` (order kept). */
function delayingProxy(target: number, ms: number): Promise<{ port: number; server: Server }> {
  const server = createServer((inbound) => {
    const out = tcpConnect({ host: "127.0.0.1", port: target });
    let last = 0;
    inbound.on("data", (chunk) => {
      const at = Math.max(Date.now() + ms, last);
      last = at;
      setTimeout(() => out.write(chunk), at - Date.now());
    });
    out.on("data", (chunk) => inbound.write(chunk));
    const end = () => {
      inbound.destroy();
      out.destroy();
    };
    inbound.on("close", end).on("error", end);
    out.on("close", end).on("error", end);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      resolve({ port: typeof addr === "object" && addr ? addr.port : 0, server });
    });
  });
}

Deno.test({ name: "29 route sync: a publish on A right after B's SUBACK arrives" }, async (t) => {
  const tag = runTag();
  const [pa, pb] = freePorts(2) as [number, number];
  const proxy = await delayingProxy(pa, 300);
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  try {
    // A dials nobody: the one link is B's, through the proxy.
    const a = await addNode(nodes, { short: "a", clusterPort: pa, seeds: [] });
    const b = await addNode(nodes, {
      short: "b",
      clusterPort: pb,
      seeds: [`a@127.0.0.1:${proxy.port}`],
    });
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    const pub = await connect(a.url, { protocolVersion: 5, clientId: `rsp29${tag}` });
    clients.push(pub);
    const sub = await connect(b.url, { protocolVersion: 5, clientId: `rss29${tag}` });
    clients.push(sub);

    await t.step("20 new filters: each first message after the SUBACK is delivered", async () => {
      const got: string[] = [];
      for (let i = 0; i < 20; i++) {
        const topic = `rs29/${tag}/${i}`;
        await subscribe(sub, topic, { qos: 1 });
        await publish(pub, topic, `m${i}`, { qos: 1 });
        got.push(...(await takeReal(sub, 1, 10_000)).map((m) => m.payload));
      }
      assertEquals(got, Array.from({ length: 20 }, (_, i) => `m${i}`), "every first message");
    });

    await t.step("a wildcard on a new shard of B too", async () => {
      const other = await connect(b.url, { protocolVersion: 5, clientId: `rsw29${tag}x` });
      clients.push(other);
      await subscribe(other, `rsw29/${tag}/+`, { qos: 1 });
      await publish(pub, `rsw29/${tag}/x`, "w", { qos: 1 });
      assertEquals((await takeReal(other, 1, 10_000)).map((m) => m.payload), ["w"], "delivered");
    });
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.broker.stop();
    await new Promise((r) => proxy.server.close(r));
  }
});
