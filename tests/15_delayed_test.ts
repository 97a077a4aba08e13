/**
 * Integration suite 15: delayed publish as in EMQX — `$delayed/{seconds}/{topic}` (and the older
 * `$delay/{seconds}/{topic}`) publishes `{topic}` after the delay, to subscribers on any shard,
 * even after the publisher left; 0 publishes at once; the RETAIN flag is kept; the PUBACK comes
 * at once; a bad interval or a missing topic gets PUBACK 0x90 (MQTT 5) and is dropped;
 * `delayed.max_delay_interval` and `delayed.max_delayed_messages` bound it (0x90, 0x97).
 *
 * Brokers: --set delayed.max_delay_interval=10s with --shards 1 and 4; then --shards 4
 * --set delayed.max_delayed_messages=2 (a broker-wide bound, as in EMQX where it is per node).
 * Mosquitto has no delayed publish: Culex only.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { brokerKind } from "./_helpers/broker.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import { openRaw5, parseAck5, publish5Packet, rc, Reason } from "./_helpers/mqtt5.ts";
import { PacketType, parseAck, publishPacket, RawClient } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

const IGNORE = brokerKind() === "mosquitto";
/** A delayed message may come this much early (timer granularity) ... */
const EARLY_MS = 200;
/** ... and must come within this much after it is due. */
const LATE_MS = 3_000;

/** Waits for one message and returns it with the time it took since t0. */
async function arrival(c: MqttClient, t0: number, dueMs: number) {
  const [m] = await collect(c, 1, dueMs + LATE_MS);
  assert(m, "a message");
  return { m, after: Date.now() - t0 };
}

/** Publishes on a raw v5 connection at QoS 1 and returns the PUBACK's reason code. */
async function pubackReason(raw: RawClient, topic: string, payload: string, pid: number) {
  await raw.send(publish5Packet({ topic, payload, qos: 1, packetId: pid }));
  const p = await raw.expectPacket(`PUBACK for ${topic}`);
  assertEquals([p.type, parseAck5(p).packetId], [PacketType.PUBACK, pid], `PUBACK for ${topic}`);
  return parseAck5(p).reason;
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `15 delayed: shards=${shards}`, ignore: IGNORE }, async (t) => {
    const tag = runTag();
    const base = `t15/${tag}`;
    await withBroker({ shards, sets: ["delayed.max_delay_interval=10s"] }, async (b) => {
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c15${p}${seq++}`);
      const subscriber = async (filter: string): Promise<MqttClient> => {
        const c = await connect(b.url, { protocolVersion: 5, clientId: id(0, "s") });
        await subscribe(c, filter, { qos: 1 });
        return c;
      };

      await t.step(
        "$delayed/2/{topic} at QoS 1: PUBACK 0x00 at once, delivered to {topic} on another shard after ≥ 2 s",
        async () => {
          const topic = `${base}/d2`;
          const sub = await subscriber(topic);
          const spy = await subscriber("$delayed/#");
          const { raw } = await openRaw5(b.port, { clientId: id(1, "p") });
          try {
            const t0 = Date.now();
            const reason = await pubackReason(raw, `$delayed/2/${topic}`, "two", 1);
            assertEquals(rc(reason), rc(Reason.SUCCESS), "PUBACK reason");
            assert(Date.now() - t0 < 1_000, `PUBACK after ${Date.now() - t0} ms, not at once`);
            const { m, after } = await arrival(sub, t0, 2_000);
            assertEquals([m.topic, m.payload, m.packet.qos], [topic, "two", 1], "delayed message");
            assert(after >= 2_000 - EARLY_MS, `delivered after ${after} ms, before 2 s`);
            await expectNone(sub, 300);
            await expectNone(spy, 0); // the $delayed topic itself is never published
          } finally {
            await raw.close();
            await closeAll([sub, spy]);
          }
        },
      );

      await t.step("$delay/1/{topic} (older spelling), from a 3.1.1 client", async () => {
        const topic = `${base}/d1`;
        const sub = await subscriber(topic);
        const pub = await connect(b.url, { protocolVersion: 4, clientId: id(1, "p4") });
        try {
          const t0 = Date.now();
          await publish(pub, `$delay/1/${topic}`, "one", { qos: 1 });
          const { m, after } = await arrival(sub, t0, 1_000);
          assertEquals([m.topic, m.payload], [topic, "one"], "delayed message");
          assert(after >= 1_000 - EARLY_MS, `delivered after ${after} ms, before 1 s`);
        } finally {
          await closeAll([sub, pub]);
        }
      });

      await t.step("$delayed/0/{topic} publishes at once", async () => {
        const topic = `${base}/d0`;
        const sub = await subscriber(topic);
        const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "p0") });
        try {
          const t0 = Date.now();
          await publish(pub, `$delayed/0/${topic}`, "now", { qos: 1 });
          const { m, after } = await arrival(sub, t0, 0);
          assertEquals([m.topic, m.payload], [topic, "now"], "message");
          assert(after < 1_000, `delivered after ${after} ms, not at once`);
        } finally {
          await closeAll([sub, pub]);
        }
      });

      await t.step(
        "delayed messages come out in order of their due time; the publisher may leave first",
        async () => {
          const topic = `${base}/order`;
          const sub = await subscriber(`${topic}/#`);
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(2, "po") });
          try {
            for (const s of [3, 1, 2]) {
              await publish(pub, `$delayed/${s}/${topic}/${s}`, `after ${s}`, { qos: 1 });
            }
            await disconnect(pub);
            const got = await collect(sub, 3, 3_000 + LATE_MS);
            assertEquals(
              got.map((m) => [m.topic, m.payload]),
              [1, 2, 3].map((s) => [`${topic}/${s}`, `after ${s}`]),
              "in due order",
            );
          } finally {
            await closeAll([sub, pub]);
          }
        },
      );

      await t.step("the RETAIN flag of a delayed message is kept", async () => {
        const topic = `${base}/retained`;
        const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "pr") });
        let late: MqttClient | null = null;
        try {
          await publish(pub, `$delayed/1/${topic}`, "kept", { qos: 1, retain: true });
          await sleep(1_000 + LATE_MS / 2);
          late = await subscriber(topic);
          const got = await collect(late, 1, 3_000);
          assertEquals(
            got.map((m) => [m.topic, m.payload, m.packet.retain]),
            [[topic, "kept", true]],
            "stored as the retained message of {topic}",
          );
          await publish(pub, topic, "", { qos: 1, retain: true });
        } finally {
          await closeAll([pub, late]);
        }
      });

      await t.step(
        "a bad interval or a missing topic → v5 PUBACK 0x90, 3.1.1 not delivered; the message is dropped",
        async () => {
          const topic = `${base}/bad`;
          const sub = await subscriber(`${base}/#`);
          const { raw } = await openRaw5(b.port, { clientId: id(1, "pb") });
          const bad = [
            `$delayed/x/${topic}`,
            `$delayed/-1/${topic}`,
            `$delayed/1.5/${topic}`,
            `$delayed//${topic}`,
            `$delayed/1`,
            `$delayed/1/`,
            `$delay/abc/${topic}`,
          ];
          try {
            let pid = 1;
            for (const tp of bad) {
              const reason = await pubackReason(raw, tp, "bad", pid++);
              assertEquals(rc(reason), rc(Reason.TOPIC_NAME_INVALID), `PUBACK reason for ${tp}`);
            }
            const v4 = await RawClient.open(b.port, { version: 4, clientId: id(2, "p4b") });
            try {
              await v4.raw.send(
                publishPacket({ version: 4, topic: `$delayed/x/${topic}`, payload: "bad", qos: 1 }),
              );
              const p = await v4.raw.readPacket(2_000).catch(() => null);
              if (p) assertEquals([p.type, parseAck(p).packetId], [PacketType.PUBACK, 1], "3.1.1");
            } finally {
              await v4.raw.close();
            }
            await expectNone(sub, 2_500);
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        },
      );
      await t.step(
        "a delay over delayed.max_delay_interval (10 s) → PUBACK 0x90, dropped; 10 s is allowed",
        async () => {
          const { raw } = await openRaw5(b.port, { clientId: id(1, "pl") });
          try {
            assertEquals(
              rc(await pubackReason(raw, `$delayed/11/${base}/long`, "too long", 1)),
              rc(Reason.TOPIC_NAME_INVALID),
              "11 s",
            );
            assertEquals(
              rc(await pubackReason(raw, `$delayed/10/${base}/max`, "at the max", 2)),
              rc(Reason.SUCCESS),
              "10 s",
            );
          } finally {
            await raw.close();
          }
        },
      );
    });
  });
}

Deno.test({ name: "15 delayed: max_delayed_messages (shards=4)", ignore: IGNORE }, async (t) => {
  const base = `t15/${runTag()}/lim`;
  const sets = ["delayed.max_delayed_messages=2"];
  await withBroker({ shards: 4, sets }, async (b) => {
    const sub = await connect(b.url, {
      protocolVersion: 5,
      clientId: clientIdForShard(0, 4, "c15ls"),
    });
    const { raw } = await openRaw5(b.port, { clientId: clientIdForShard(1, 4, "c15lp") });
    try {
      await subscribe(sub, `${base}/#`, { qos: 1 });

      await t.step("the third pending delayed message (max 2) → PUBACK 0x97, dropped", async () => {
        const t0 = Date.now();
        const codes = [];
        for (const i of [1, 2, 3]) {
          codes.push(rc(await pubackReason(raw, `$delayed/1/${base}/q${i}`, `q${i}`, i)));
        }
        assertEquals(
          codes,
          [rc(Reason.SUCCESS), rc(Reason.SUCCESS), rc(Reason.QUOTA_EXCEEDED)],
          "PUBACK reasons",
        );
        const got = await collect(sub, 2, 1_000 + LATE_MS);
        assert(Date.now() - t0 >= 1_000 - EARLY_MS, "not before the delay");
        assertEquals(got.map((m) => m.payload).sort(), ["q1", "q2"], "the two accepted ones");
        await expectNone(sub, 500);
        // Once they went out, there is room again.
        assertEquals(
          rc(await pubackReason(raw, `$delayed/0/${base}/q4`, "q4", 4)),
          rc(Reason.SUCCESS),
          "room again",
        );
        assertEquals((await collect(sub, 1, 3_000)).map((m) => m.payload), ["q4"], "q4");
      });
    } finally {
      await raw.close();
      await closeAll([sub]);
    }
  });
});
