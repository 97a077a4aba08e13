/**
 * Integration suite 13 (strategies): one broker per `broker.shared_subscription_strategy` with 4
 * shards and members on different shards — random (each message once, spread), sticky (one
 * member until it leaves, then one other), hash_clientid (one member per publisher), hash_topic
 * (one member per topic). round_robin, the default, is checked in 13_shared_test.ts.
 *
 * Strategies are EMQX's (broker.shared_subscription_strategy); MQTT 5.0 4.8.2 leaves the choice
 * to the server.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  disconnect,
  publish,
  runTag,
  subscribe,
  takeMatching,
} from "./_helpers/clients.ts";
import { assertPartition, gather, members, ownerOf, seqOf } from "./_helpers/groups.ts";
import { withBroker } from "./_helpers/suite.ts";

/** Runs body against a broker with 4 shards and the given strategy. */
function strategyTest(
  strategy: string,
  body: (
    url: string,
    id: (shard: number, p: string) => string,
    base: string,
    prefix: string,
  ) => Promise<void>,
): void {
  Deno.test({ name: `13 shared: strategy ${strategy} (shards=4)` }, async () => {
    const base = `t13/${runTag()}/${strategy}`;
    let seq = 0;
    const id = (shard: number, p: string) => clientIdForShard(shard, 4, `c13${p}${seq++}`);
    await withBroker(
      { shards: 4, sets: [`broker.shared_subscription_strategy=${strategy}`] },
      async (b) => await body(b.url, id, base, `c13${strategy.replace(/_/g, "")}m`),
    );
  });
}

strategyTest("random", async (url, id, base, prefix) => {
  const ms = await members(url, prefix, `${base}/t`, 3);
  const pub = await connect(url, { protocolVersion: 5, clientId: id(3, "p") });
  try {
    for (const p of seqOf(30)) await publish(pub, `${base}/t`, p, { qos: 1 });
    const got = await gather(ms, 30, 10_000);
    assertPartition(got, seqOf(30), "random");
    assert(got.filter((g) => g.length > 0).length >= 2, `spread: ${got.map((g) => g.length)}`);
  } finally {
    await closeAll([...ms, pub]);
  }
});

strategyTest("sticky", async (url, id, base, prefix) => {
  const ms = await members(url, prefix, `${base}/t`, 3);
  const pub = await connect(url, { protocolVersion: 5, clientId: id(3, "p") });
  try {
    for (const p of seqOf(20)) await publish(pub, `${base}/t`, p, { qos: 1 });
    const got = await gather(ms, 20, 10_000);
    assertPartition(got, seqOf(20), "sticky");
    const chosen = got.findIndex((g) => g.length > 0);
    assertEquals(
      got.map((g) => g.length > 0 ? g.length : 0).filter((n) => n > 0),
      [20],
      "one member",
    );
    const leaving = ms[chosen];
    assert(leaving, "the chosen member");
    // Publish on only once the broker has handled the leave: the member's shard announces the
    // disconnect after it told every shard the member left, on the same rings, so the
    // publisher's shard has the new membership once the publisher sees the event. Before that,
    // a message may still go to the leaving member and be handed on to any other member.
    const leftTopic = `$SYS/brokers/+/clients/${leaving.options.clientId}/disconnected`;
    await subscribe(pub, leftTopic, { qos: 0 });
    await disconnect(leaving);
    await takeMatching(pub, (m) => m.topic.endsWith("/disconnected"), 10_000);
    const rest = ms.filter((_, i) => i !== chosen);
    const more = seqOf(30).slice(20);
    for (const p of more) await publish(pub, `${base}/t`, p, { qos: 1 });
    const after = await gather(rest, 10, 10_000);
    assertPartition(after, more, "sticky after the member left");
    assertEquals(after.map((g) => g.length).filter((n) => n > 0), [10], "one other member");
  } finally {
    await closeAll([...ms, pub]);
  }
});

strategyTest("hash_clientid", async (url, _id, base, prefix) => {
  const ms = await members(url, prefix, `${base}/#`, 3);
  const pubs: MqttClient[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      pubs.push(await connect(url, { protocolVersion: 5, clientId: `c13hashpub${i}` }));
    }
    // Each publisher uses several topics: only the client id may decide the member.
    for (let r = 0; r < 3; r++) {
      for (const [i, p] of pubs.entries()) {
        await publish(p, `${base}/topic${r}`, `${i * 3 + r}`, { qos: 1 });
      }
    }
    const got = await gather(ms, 24, 10_000);
    assertPartition(got, seqOf(24), "hash_clientid");
    const owner = ownerOf(got);
    const perPublisher = pubs.map((
      _,
      i,
    ) => [...new Set([0, 1, 2].map((r) => owner.get(`${i * 3 + r}`)))]);
    assert(
      perPublisher.every((s) => s.length === 1),
      `one member per publisher: ${JSON.stringify(perPublisher)}`,
    );
    assert(
      new Set(perPublisher.flat()).size >= 2,
      `publishers spread: ${JSON.stringify(perPublisher)}`,
    );
  } finally {
    await closeAll([...ms, ...pubs]);
  }
});

strategyTest("hash_topic", async (url, id, base, prefix) => {
  const ms = await members(url, prefix, `${base}/#`, 3);
  const pubs = [
    await connect(url, { protocolVersion: 5, clientId: id(3, "p") }),
    await connect(url, { protocolVersion: 4, clientId: id(0, "q") }),
  ];
  try {
    // 8 topics × 2 publishers × 2 rounds; only the topic may decide the member.
    let n = 0;
    const topicOf = new Map<string, number>();
    for (let r = 0; r < 2; r++) {
      for (let k = 0; k < 8; k++) {
        for (const p of pubs) {
          topicOf.set(String(n), k);
          await publish(p, `${base}/k${k}`, String(n++), { qos: 1 });
        }
      }
    }
    const got = await gather(ms, n, 10_000);
    assertPartition(got, seqOf(n), "hash_topic");
    const owner = ownerOf(got);
    const perTopic = Array.from(
      { length: 8 },
      (_, k) => [...new Set([...topicOf].filter(([, t]) => t === k).map(([p]) => owner.get(p)))],
    );
    assert(
      perTopic.every((s) => s.length === 1),
      `one member per topic: ${JSON.stringify(perTopic)}`,
    );
    assert(new Set(perTopic.flat()).size >= 2, `topics spread: ${JSON.stringify(perTopic)}`);
  } finally {
    await closeAll([...ms, ...pubs]);
  }
});
