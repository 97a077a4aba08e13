/**
 * Integration suite 13: shared subscriptions — `$share/{group}/{filter}` for MQTT 5 and 3.1.1
 * clients and `$queue/{filter}`, members on different shards. Each message goes to exactly one
 * member of each group; groups and plain subscriptions on the same filter each get it; granted
 * QoS is respected; retained messages are not sent on a shared subscribe; UNSUBSCRIBE removes a
 * member; QoS 1 messages a member leaves unacknowledged go to another member, those it refused
 * (PUBACK ≥ 0x80) go nowhere; invalid share names are refused. The broker runs its default
 * strategy, round_robin; the other strategies are in 13_shared_strategy_test.ts.
 *
 * Judged per MQTT 5.0 sections 3.3.1.3, 3.8.3.1, 4.8.2 and EMQX's strategies.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  drain,
  expectNone,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import {
  closeReason,
  openRaw5,
  Prop,
  propOf,
  puback5Packet,
  rc,
  Reason,
  subscribe5Packet,
} from "./_helpers/mqtt5.ts";
import { parseSuback, RawClient, subscribePacket } from "./_helpers/raw_client.ts";
import { assertPartition, gather, QUIET_MS, readPublishes, seqOf } from "./_helpers/groups.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `13 shared: shards=${shards} (default round_robin)` }, async (t) => {
    const tag = runTag();
    const base = `t13/${tag}`;
    await withBroker({ shards }, async (b) => {
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c13${p}${seq++}`);
      const member = async (shard: number, filter: string, v: 4 | 5 = 5, qos: 0 | 1 = 1) => {
        const c = await connect(b.url, { protocolVersion: v, clientId: id(shard, "m") });
        await subscribe(c, filter, { qos });
        return c;
      };
      const publisher = () => connect(b.url, { protocolVersion: 5, clientId: id(3, "p") });

      await t.step("CONNACK: Shared Subscription Available 1 (MQTT 5.0 3.2.2.3.13)", async () => {
        const { raw, connack } = await openRaw5(b.port, { clientId: id(0, "ca") });
        await raw.close();
        const v = propOf(connack.props, Prop.SHARED_SUBSCRIPTION_AVAILABLE);
        assert(v === 1 || (v === undefined && b.isMosquitto), `Shared Subscription Available ${v}`);
      });

      await t.step(
        "$share/g: 3 members (v5, 3.1.1 at QoS 0, v5) on different shards; each message to one; round robin 10/10/10 [MQTT-4.8.2-3]",
        async () => {
          const topic = `${base}/rr`;
          const ms = [
            await member(0, `$share/g/${topic}`, 5),
            await member(1, `$share/g/${topic}`, 4, 0),
            await member(2, `$share/g/${topic}`, 5),
          ];
          const pub = await publisher();
          try {
            for (const p of seqOf(30)) await publish(pub, topic, p, { qos: 1 });
            const got = await gather(ms, 30, 10_000);
            assertPartition(got, seqOf(30), "group g");
            assertEquals(got.map((g) => g.length), [10, 10, 10], "round robin: 10 per member");
            assertEquals(
              got.map((g) => [...new Set(g.map((m) => m.packet.qos))]),
              [[1], [0], [1]],
              "each member at its granted QoS",
            );
            assert(got.flat().every((m) => m.topic === topic), "delivered on the published topic");
          } finally {
            await closeAll([...ms, pub]);
          }
        },
      );

      await t.step("$queue/t: members share the messages like one group", async () => {
        const topic = `${base}/queue`;
        const ms = [await member(0, `$queue/${topic}`), await member(1, `$queue/${topic}`)];
        const pub = await publisher();
        try {
          for (const p of seqOf(10)) await publish(pub, topic, p, { qos: 1 });
          const got = await gather(ms, 10, 10_000);
          assertPartition(got, seqOf(10), "$queue");
          assertEquals(got.map((g) => g.length), [5, 5], "round robin: 5 per member");
        } finally {
          await closeAll([...ms, pub]);
        }
      });

      await t.step(
        "two groups and a plain subscription on one filter: each group once, the plain subscriber every message",
        async () => {
          const topic = `${base}/groups`;
          const g1 = [await member(0, `$share/g1/${topic}`), await member(1, `$share/g1/${topic}`)];
          const g2 = [await member(2, `$share/g2/${topic}`, 4)];
          const plain = await member(1, topic);
          const pub = await publisher();
          try {
            for (const p of seqOf(10)) await publish(pub, topic, p, { qos: 1 });
            const [got1, got2, gotPlain] = await Promise.all([
              gather(g1, 10, 10_000),
              gather(g2, 10, 10_000),
              gather([plain], 10, 10_000),
            ]);
            assertPartition(got1, seqOf(10), "group g1");
            assertPartition(got2, seqOf(10), "group g2");
            assertEquals(gotPlain.flat().map((m) => m.payload), seqOf(10), "plain subscriber");
          } finally {
            await closeAll([...g1, ...g2, plain]);
          }
        },
      );

      await t.step(
        "no retained message on a shared subscribe (MQTT 5.0 3.3.1.3: only a new Non-shared Subscription gets them)",
        async () => {
          const topic = `${base}/retained`;
          const pub = await publisher();
          const ms: MqttClient[] = [];
          try {
            await publish(pub, topic, "stored", { qos: 1, retain: true });
            ms.push(
              await member(0, `$share/g/${topic}`, 5),
              await member(1, `$share/g/${topic}`, 4),
            );
            const plain = await member(2, topic);
            ms.push(plain);
            const got = await collect(plain, 1, 5_000);
            assertEquals(got.map((m) => [m.payload, m.packet.retain]), [["stored", true]], "plain");
            await Promise.all(ms.slice(0, 2).map((m) => expectNone(m, QUIET_MS)));
            // The shared subscriptions themselves work.
            await publish(pub, topic, "live", { qos: 1 });
            const live = await gather(ms.slice(0, 2), 1, 5_000);
            assertEquals(
              live.flat().map((m) => [m.payload, m.packet.retain]),
              [["live", false]],
              "live",
            );
            await publish(pub, topic, "", { qos: 1, retain: true });
          } finally {
            await closeAll([...ms, pub]);
          }
        },
      );

      await t.step(
        "UNSUBSCRIBE $share/g/t removes the member; the others get everything",
        async () => {
          const topic = `${base}/unsub`;
          const a = await member(0, `$share/g/${topic}`);
          const c = await member(1, `$share/g/${topic}`, 4);
          const pub = await publisher();
          try {
            const ack = await a.unsubscribeAsync(`$share/g/${topic}`);
            const codes = ack as { reasonCode?: number; reasonCodes?: number[] } | undefined;
            assert(
              (codes?.reasonCodes ?? [codes?.reasonCode ?? 0]).every((x) => x === 0),
              `UNSUBACK success: ${JSON.stringify(codes)}`,
            );
            for (const p of seqOf(6)) await publish(pub, topic, p, { qos: 1 });
            const got = await gather([a, c], 6, 10_000);
            assertEquals(got.map((g) => g.length), [0, 6], "all to the remaining member");
            assertPartition(got, seqOf(6), "after unsubscribe");
          } finally {
            await closeAll([a, c, pub]);
          }
        },
      );

      await t.step(
        "a member that leaves with unacknowledged QoS 1 messages: they go to another member (MQTT 5.0 4.8.2)",
        async () => {
          const topic = `${base}/leave`;
          const { raw } = await openRaw5(b.port, { clientId: id(0, "lr") });
          const other = await member(1, `$share/g/${topic}`);
          const pub = await publisher();
          try {
            await raw.send(subscribe5Packet(1, [{ topic: `$share/g/${topic}`, qos: 1 }]));
            await raw.expectPacket("SUBACK");
            for (const p of seqOf(6)) await publish(pub, topic, p, { qos: 1 });
            const held = await readPublishes(raw, 6, 1_000);
            const first = await drain(other, 0);
            assert(held.length > 0, "the raw member was given messages");
            assertEquals(held.length + first.length, 6, "each message to one member first");
            await raw.close(); // never acknowledged; clean start, session expiry 0: session ends
            const redelivered = await gather([other], held.length, 5_000);
            assertEquals(
              redelivered.flat().map((m) => m.payload).sort(),
              held.map((m) => m.text).sort(),
              "the unacknowledged messages, each once",
            );
            assertPartition([first, redelivered.flat()], seqOf(6), "the remaining member");
          } finally {
            await raw.close();
            await closeAll([other, pub]);
          }
        },
      );

      await t.step(
        "a member's PUBACK ≥ 0x80 discards the message: no other member gets it [MQTT-4.8.2-6]",
        async () => {
          const topic = `${base}/nack`;
          const { raw } = await openRaw5(b.port, { clientId: id(0, "nr") });
          const other = await member(1, `$share/g/${topic}`);
          const pub = await publisher();
          try {
            await raw.send(subscribe5Packet(1, [{ topic: `$share/g/${topic}`, qos: 1 }]));
            await raw.expectPacket("SUBACK");
            for (const p of seqOf(6)) await publish(pub, topic, p, { qos: 1 });
            const refused = await readPublishes(raw, 6, 1_000);
            assert(refused.length > 0, "the raw member was given messages");
            for (const m of refused) {
              await raw.send(puback5Packet(m.packetId ?? 0, Reason.UNSPECIFIED_ERROR));
            }
            await sleep(200);
            await raw.close();
            const got = await gather([other], 6, 1_500);
            assertEquals(
              got.flat().map((m) => m.payload).sort(),
              seqOf(6).filter((p) => !refused.some((r) => r.text === p)).sort(),
              "only the messages given to this member",
            );
          } finally {
            await raw.close();
            await closeAll([other, pub]);
          }
        },
      );

      for (const v of [5, 4] as const) {
        await t.step(
          `v${v}: invalid share names → SUBACK ${
            v === 5 ? "0x8F" : "0x80"
          }, the valid filter granted [MQTT-4.8.2-1] [MQTT-4.8.2-2]`,
          async () => {
            const { raw } = await RawClient.open(b.port, { version: v, clientId: id(0, `iv${v}`) });
            try {
              const bad = ["$share/g", "$share//f", "$share/g+/f", "$share/g#/f", "$share/g/"];
              const filters = [...bad, `$share/g/${base}/ok`].map((topic) => ({
                topic,
                qos: 1 as const,
              }));
              await raw.send(subscribePacket(v, 3, filters));
              const ack = parseSuback(await raw.expectPacket("SUBACK"), v);
              const refused = v === 5 ? Reason.TOPIC_FILTER_INVALID : 0x80;
              assertEquals(
                ack.codes.map((c) => rc(c)),
                [...bad.map(() => rc(refused)), rc(1)],
                `SUBACK codes for ${filters.map((f) => f.topic).join(", ")}`,
              );
            } finally {
              await raw.close();
            }
          },
        );
      }

      await t.step(
        "No Local on a shared subscription → DISCONNECT 0x82 [MQTT-3.8.3-4]",
        async () => {
          const { raw } = await openRaw5(b.port, { clientId: id(0, "nl") });
          try {
            await raw.send(
              subscribe5Packet(1, [{ topic: `$share/g/${base}/nl`, qos: 1, noLocal: true }]),
            );
            const reason = await closeReason(raw, "SUBSCRIBE $share with No Local");
            assertEquals(rc(reason), rc(Reason.PROTOCOL_ERROR), "DISCONNECT reason");
          } finally {
            await raw.close();
          }
        },
      );
    });
  });
}
