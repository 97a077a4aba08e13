/**
 * 19 big messages: packets of any allowed size cross the rings with the default ipc.ring_size
 * (4MB) (issue 11, item 6). With mqtt.max_packet_size=256MB (and retainer.max_payload_size
 * 256MB) and 4 shards, a 64 MB QoS 1 publish
 * goes from a publisher on one shard to a subscriber on another (RoutedPublish, then ConnOutbound,
 * both far larger than a ring), in order between small messages; a 64 MB retained message stored
 * on a third shard (RetainStore) reaches a later subscriber (RetainAnswer); a shared subscription
 * member on a fourth shard gets a big message (SharedDeliver). Clients: npm:mqtt.
 */

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  runTag,
  subscribe,
  topicForShard,
} from "./_helpers/clients.ts";
import { withBroker } from "./_helpers/suite.ts";

const SHARDS = 4;
const MB = 1024 * 1024;
const SETS = ["mqtt.max_packet_size=256MB", "retainer.max_payload_size=256MB"];

/** `size` bytes that differ with the position and the seed (a shifted piece would show). */
function bytes(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Publishes binary bytes and waits for the PUBACK, at most `ms`. */
async function publishBytes(
  c: MqttClient,
  topic: string,
  payload: Buffer,
  opts: { qos: 0 | 1; retain?: boolean },
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      c.publishAsync(topic, payload, opts),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PUBACK for ${topic} in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("19 big messages: a 64 MB publish crosses shards with the default ring size", async () => {
  const tag = runTag();
  await withBroker({ shards: SHARDS, sets: SETS }, async (broker) => {
    const clients: MqttClient[] = [];
    try {
      const sub = await connect(broker.url, {
        protocolVersion: 4,
        clientId: clientIdForShard(1, SHARDS, `${tag}s`),
      });
      clients.push(sub);
      const pub = await connect(broker.url, {
        protocolVersion: 4,
        clientId: clientIdForShard(0, SHARDS, `${tag}p`),
      });
      clients.push(pub);
      await subscribe(sub, `${tag}/big`, { qos: 1 });
      const big = bytes(64 * MB, 1);
      await publishBytes(pub, `${tag}/big`, Buffer.from("before"), { qos: 1 }, 5_000);
      await publishBytes(pub, `${tag}/big`, big, { qos: 1 }, 60_000);
      await publishBytes(pub, `${tag}/big`, Buffer.from("after"), { qos: 1 }, 5_000);
      const got = await collect(sub, 3, 60_000);
      assertEquals(got.map((m) => m.packet.payload.length), [6, 64 * MB, 5], "sizes, in order");
      assertEquals(sha(got[1]!.packet.payload as Uint8Array), sha(big), "64 MB payload intact");
      assertEquals(got[1]!.packet.qos, 1, "QoS 1 delivery");
    } finally {
      await closeAll(clients);
    }
  });
});

Deno.test("19 big messages: a 64 MB retained message reaches a subscriber on another shard", async () => {
  const tag = runTag();
  await withBroker({ shards: SHARDS, sets: SETS }, async (broker) => {
    const clients: MqttClient[] = [];
    try {
      // Publisher on shard 0, topic owned by shard 2, subscriber on shard 1: every hop is a ring.
      const topic = topicForShard(2, SHARDS, `${tag}/r`);
      const marker = topicForShard(2, SHARDS, `${tag}/m`);
      const pub = await connect(broker.url, {
        protocolVersion: 5,
        clientId: clientIdForShard(0, SHARDS, `${tag}p`),
      });
      clients.push(pub);
      const big = bytes(64 * MB, 2);
      await publishBytes(pub, topic, big, { qos: 1, retain: true }, 60_000);
      // The PUBACK may leave while the 64 MB store is still crossing ring 0 -> 2. A small
      // retained marker sent after it on the same ring lands after it: once a subscriber sees
      // the marker, the big one is stored.
      await publishBytes(pub, marker, Buffer.from("m"), { qos: 1, retain: true }, 5_000);
      const sub = await connect(broker.url, {
        protocolVersion: 5,
        clientId: clientIdForShard(1, SHARDS, `${tag}s`),
      });
      clients.push(sub);
      const deadline = Date.now() + 60_000;
      for (let seen = false; !seen;) {
        assert(Date.now() < deadline, "the retained marker never arrived");
        await subscribe(sub, marker, { qos: 1 });
        seen = (await collect(sub, 1, 1_000).catch(() => [])).length > 0;
        await sub.unsubscribeAsync(marker);
      }
      await subscribe(sub, topic, { qos: 1 });
      const [got] = await collect(sub, 1, 60_000);
      assert(got!.packet.retain, "delivered with RETAIN set");
      assertEquals(sha(got!.packet.payload as Uint8Array), sha(big), "retained payload intact");
    } finally {
      await closeAll(clients);
    }
  });
});

Deno.test("19 big messages: a 16 MB message goes to a shared member on another shard", async () => {
  const tag = runTag();
  await withBroker({ shards: SHARDS, sets: SETS }, async (broker) => {
    const clients: MqttClient[] = [];
    try {
      const member = await connect(broker.url, {
        protocolVersion: 5,
        clientId: clientIdForShard(3, SHARDS, `${tag}m`),
      });
      clients.push(member);
      await subscribe(member, `$share/g/${tag}/s`, { qos: 1 });
      const pub = await connect(broker.url, {
        protocolVersion: 5,
        clientId: clientIdForShard(2, SHARDS, `${tag}p`),
      });
      clients.push(pub);
      const big = bytes(16 * MB, 3);
      await publishBytes(pub, `${tag}/s`, big, { qos: 1 }, 30_000);
      const [got] = await collect(member, 1, 30_000);
      assertEquals(sha(got!.packet.payload as Uint8Array), sha(big), "shared payload intact");
    } finally {
      await closeAll(clients);
    }
  });
});
