/**
 * Integration suite 29 (node hop, issue 15): a message from another node goes from the receiving
 * supervisor straight to each of its shards with a matching route (docs/cluster.md, "Publish
 * across nodes", step 3), not through the shard its topic hashes to. Two real nodes of 2 shards;
 * on B, subscribers with exact and wildcard filters on the topic's own shard and on the other one,
 * two of them on the same shard with different filters (that shard must get each message once).
 * Each subscriber receives every message once, in the publisher's order [MQTT-4.6.0-6]: a marker
 * published last is the next message after them (no duplicate in between, no timed wait).
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  publish,
  runTag,
  subscribe,
  topicForShard,
} from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  seedOf,
  takeReal,
  waitUp,
} from "./_helpers/cluster.ts";

const SHARDS = 2;
const MESSAGES = 20;

Deno.test("29 hop dispatch: a peer's message reaches each matching shard once, in order", async () => {
  const tag = runTag();
  const [pa, pb] = freePorts(2) as [number, number];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  try {
    const a = await addNode(nodes, { short: "a", clusterPort: pa, seeds: [`b@127.0.0.1:${pb}`] });
    const b = await addNode(nodes, { short: "b", clusterPort: pb, seeds: [seedOf(a)] });
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    // The topic hashes to B's shard 0; subscribers sit on shard 0 and on shard 1.
    const topic = topicForShard(0, SHARDS, `hd${tag}/t`);
    const subs: [string, number, string][] = [
      ["exact, other shard", 1, topic],
      ["wildcard +, topic's shard", 0, `hd${tag}/+`],
      ["exact, topic's shard", 0, topic],
      ["wildcard #, other shard", 1, `hd${tag}/#`],
    ];
    const subscribers: MqttClient[] = [];
    for (const [i, [, shard, filter]] of subs.entries()) {
      const id = clientIdForShard(shard, SHARDS, `hd${i}${tag}`);
      const c = await connect(b.url, { protocolVersion: 5, clientId: id });
      clients.push(c);
      subscribers.push(c);
      await subscribe(c, filter, { qos: 1 });
    }
    const pub = await connect(a.url, { protocolVersion: 5, clientId: `hdp${tag}` });
    clients.push(pub);
    for (const s of subscribers) await awaitRoute(pub, s, topic);
    const sent = Array.from({ length: MESSAGES }, (_, i) => `m${i}`);
    for (const m of [...sent, "end"]) await publish(pub, topic, m, { qos: 1 });
    for (const [i, s] of subscribers.entries()) {
      const got = (await takeReal(s, MESSAGES + 1, 15_000)).map((m) => m.payload);
      assertEquals(got, [...sent, "end"], `${subs[i]![0]}: each message once, in order`);
    }
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.broker.stop();
  }
});
