// Retained lookups across shards, with the interleavings chosen by the test (TestShards): a
// retained message reaches a new subscriber once, whichever way its live copy and the owner's
// answer cross [MQTT-3.3.1-6], [MQTT-3.3.1-9].
import assert from "node:assert/strict";
import type { IPublishPacket } from "mqtt-packet";
import { shardOf } from "../ipc/mod.ts";
import { connectOf, type TestConn, TestShards } from "./_test_harness.ts";

/** A topic under `prefix` whose retained message lives on shard `owner` of `count`. */
function topicOwnedBy(prefix: string, owner: number, count: number): string {
  for (let i = 0;; i++) if (shardOf(`${prefix}/${i}`, count) === owner) return `${prefix}/${i}`;
}

const publishes = (c: TestConn) =>
  (c.received.filter((p) => p.cmd === "publish") as IPublishPacket[])
    .map((p) => `${p.topic}=${p.payload.toString()}:${p.retain ? 1 : 0}`);

for (const filterKind of ["exact", "wildcard"] as const) {
  Deno.test(`a retained publish made right after a SUBSCRIBE (${filterKind} filter) reaches the subscriber once, live, although the owner answers after storing it`, () => {
    const group = new TestShards(2);
    const a = group.shards[0]!;
    const topic = topicOwnedBy("race", 1, 2);
    const sub = a.open(4);
    sub.send(connectOf("sub", 4));
    const filter = filterKind === "exact" ? topic : "race/#";
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
    assert.equal(sub.received.at(-1)?.cmd, "suback");
    // The publisher is on the subscriber's shard: its store follows the query on the same queue,
    // so the owner reads both in one pass and answers last, with the new message in its answer.
    const pub = a.open(4);
    pub.send(connectOf("pub", 4));
    pub.send({
      cmd: "publish",
      topic,
      payload: "v1",
      qos: 1,
      retain: true,
      dup: false,
      messageId: 7,
    });
    assert.deepEqual(publishes(sub), [`${topic}=v1:0`], "the live copy, RETAIN 0");
    assert.ok(group.pending(0, 1) >= 2, "query and store are queued for the owner");
    group.drainPeers(1);
    group.drainPeers(0);
    assert.deepEqual(publishes(sub), [`${topic}=v1:0`], "no second copy from the answer");
    // A later subscriber still gets it as retained.
    const late = a.open(4);
    late.send(connectOf("late", 4));
    late.send({ cmd: "subscribe", messageId: 2, subscriptions: [{ topic: filter, qos: 1 }] });
    group.drainPeers(1);
    group.drainPeers(0);
    assert.deepEqual(publishes(late), [`${topic}=v1:1`]);
  });
}

Deno.test("a retained message stored before a SUBSCRIBE is sent although the owner reads the query before the store (answer queries last) [MQTT-3.3.1-6]", () => {
  const group = new TestShards(3);
  const [a, c] = [group.shards[0]!, group.shards[2]!];
  const topic = topicOwnedBy("first", 1, 3);
  // Shard 2's store to owner 1 is queued before shard 0's query, but the owner's pass reads
  // shard 0's queue first: an answer given at once would miss the store.
  const pub = c.open(5);
  pub.send(connectOf("pub2", 5));
  pub.send({ cmd: "publish", topic, payload: "old", qos: 0, retain: true, dup: false });
  const sub = a.open(5);
  sub.send(connectOf("sub2", 5));
  sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos: 0 }] });
  assert.equal(group.pending(2, 1), 1, "the store waits in shard 2's queue");
  group.drainPeers(1);
  group.drainPeers(0);
  assert.deepEqual(publishes(sub), [`${topic}=old:1`]);
});
