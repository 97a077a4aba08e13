/**
 * Integration suite 28 (retain2): the outbound path from a shard to the socket after PUBLISH
 * packets are encoded in place into the shard's outbound batches (src/shard/_outbound.ts) and
 * disc retained pages carry their topics' bytes (src/mqtt/publish_encoder.ts). On 16 KiB ring
 * records (`ipc.ring_size=64KB`), so one connection's batch is cut into several records and a
 * 100 KiB payload crosses the ring in fragments.
 *
 * Judged per MQTT 5.0: a retained message goes to a new subscription with RETAIN 1
 * [MQTT-3.3.1-8], its properties forwarded unaltered [MQTT-3.3.2-17, -18, -20] with the
 * subscription's identifier [MQTT-3.3.4-3]; one publisher's messages on one topic reach a
 * subscriber in order, at every QoS [MQTT-4.6.0-6]. Real broker process, real clients (npm:mqtt,
 * mosquitto_sub). Culex only: Mosquitto has no `retainer.backend`.
 */

import type { MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { type BrokerHandle, brokerKind, startBroker } from "./_helpers/broker.ts";
import {
  closeAll,
  collect,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";

const IGNORE = brokerKind() === "mosquitto";
const SETS = [
  "retainer.backend.storage_type=disc",
  "ipc.ring_size=64KB",
  // The order step's 1,500 messages fit a subscriber's queue even when it reads none of them
  // before the flood ends (the publisher's PUBACKs do not wait for the subscribers): with the
  // default 1,000 a loaded run dropped the oldest QoS 1 messages, as the drop policy says.
  "mqtt.max_mqueue_len=5000",
];
/** Retained messages of the wildcard step: past one retained page (5,000 rows). */
const RETAINED = Number(Deno.env.get("T28R2_RETAINED") ?? 6_000);

/** A payload of `n` bytes whose content depends on `seed` (so a mix-up shows). */
function body(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** Sizes that take each path: in the arena, over the arena's limit, apart from the header. */
function sizeOf(i: number): number {
  if (i % 1000 === 7) return 100 * 1024; // payloadApart: its own ring fragments
  if (i % 500 === 3) return 20 * 1024; // over ARENA_MAX_PACKET: a buffer of its own
  return 5 + (i % 40);
}

Deno.test({
  name: "28 retain2: in-place PUBLISH encoding, retained pages and order through 16 KiB records",
  ignore: IGNORE,
}, async (t) => {
  const tag = runTag();
  const base = `t28r2/${tag}`;
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test28r2_" });
  const broker: BrokerHandle = await startBroker({ shards: 2, sets: SETS, dataDir });
  const clients: MqttClient[] = [];
  try {
    await t.step(
      `a wildcard subscriber gets ${RETAINED} retained messages intact, properties and all`,
      async () => {
        const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28r2a${tag}` });
        clients.push(pub);
        for (let i = 0; i < RETAINED; i++) {
          const props = i % 3 === 0
            ? {
              userProperties: { k: [`v${i}`, "ü"] },
              contentType: "application/x-test",
              responseTopic: `${base}/reply/${i}`,
              correlationData: Buffer.from([i & 0xff, 9]),
              payloadFormatIndicator: false,
            }
            : undefined;
          // Non-ASCII levels: the stored topic bytes are what goes on the wire.
          pub.publish(`${base}/r/${i % 7 === 0 ? "é" : "a"}/${i}`, body(sizeOf(i), i), {
            qos: (i % 2) as 0 | 1,
            retain: true,
            ...(props ? { properties: props } : {}),
          });
        }
        await publish(pub, `${base}/barrier`, "b", { qos: 1, retain: true });
        await disconnect(pub);

        for (const qos of [0, 1] as const) {
          const sub = await connect(broker.url, {
            protocolVersion: 5,
            clientId: `s28r2a${qos}${tag}`,
          });
          clients.push(sub);
          await subscribe(sub, `${base}/r/#`, { qos, properties: { subscriptionIdentifier: 42 } });
          const got = await collect(sub, RETAINED, 60_000);
          await expectNone(sub, 300);
          const seen = new Set<number>();
          for (const m of got) {
            const i = Number(m.topic.split("/").pop());
            seen.add(i);
            const p = m.packet;
            assert.equal(m.topic, `${base}/r/${i % 7 === 0 ? "é" : "a"}/${i}`);
            assert.equal(p.retain, true, "RETAIN 1 [MQTT-3.3.1-8]");
            assert.equal(p.qos, Math.min(qos, i % 2), "the lower of the two QoS");
            assert.deepEqual(Buffer.from(p.payload as Uint8Array), body(sizeOf(i), i), m.topic);
            assert.deepEqual(p.properties?.subscriptionIdentifier, 42);
            if (i % 3 === 0) {
              const pr = p.properties!;
              assert.deepEqual({ ...pr.userProperties }, { k: [`v${i}`, "ü"] });
              assert.equal(pr.contentType, "application/x-test");
              assert.equal(pr.responseTopic, `${base}/reply/${i}`);
              assert.deepEqual([...pr.correlationData!], [i & 0xff, 9]);
              assert.equal(pr.payloadFormatIndicator, false);
            } else {
              assert.equal(p.properties?.userProperties, undefined);
            }
          }
          assert.equal(seen.size, RETAINED, "every retained message once");
          await disconnect(sub);
        }
      },
    );

    await t.step("mosquitto_sub (MQTT 3.1.1) reads a retained page", async () => {
      const out = await new Deno.Command("mosquitto_sub", {
        args: [
          ...["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv311"],
          ...["-t", `${base}/r/a/#`, "-C", "100", "-W", "20", "-F", "%t %l"],
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      assert.equal(lines.length, 100);
      for (const line of lines) {
        const [topic, len] = line.split(" ");
        assert.equal(Number(len), sizeOf(Number(topic!.split("/").pop())), line);
      }
    });

    await t.step(
      "one publisher's messages keep their order across in-place and own-buffer packets",
      async () => {
        const n = 1500;
        const subs = await Promise.all([0, 1, 2].map(async (qos) => {
          const s = await connect(broker.url, {
            protocolVersion: 5,
            clientId: `s28r2o${qos}${tag}`,
          });
          clients.push(s);
          await subscribe(s, `${base}/o/#`, { qos: qos as 0 | 1 | 2 });
          return s;
        }));
        const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p28r2o${tag}` });
        clients.push(pub);
        for (let i = 0; i < n; i++) {
          const b = body(sizeOf(i), i);
          b.writeUInt32BE(i, 0); // the sequence number, even in the smallest payload
          // QoS 0 and 1: QoS 2 would stop at max_awaiting_rel (100) without waiting for each.
          // Every 100th waits for its PUBACK (the publisher's flow control, not the subscribers').
          if (i % 100 === 99) await pub.publishAsync(`${base}/o/x`, b, { qos: 1 });
          else pub.publish(`${base}/o/x`, b, { qos: (i % 2) as 0 | 1 });
        }
        await publish(pub, `${base}/o/end`, "", { qos: 1 });
        for (const [k, s] of subs.entries()) {
          const seq: number[] = [];
          for (;;) {
            const [m] = await collect(s, 1, 60_000);
            if (m!.topic === `${base}/o/end`) break;
            const p = Buffer.from(m!.packet.payload as Uint8Array);
            const i = p.readUInt32BE(0);
            seq.push(i);
            assert.equal(p.length, sizeOf(i), `length of ${i}`);
            assert.equal(m!.packet.qos, Math.min(k, i % 100 === 99 ? 1 : i % 2));
          }
          // In order [MQTT-4.6.0-6]; a QoS 0 delivery may be dropped by a full queue, QoS 1 not.
          assert(seq.every((v, j) => j === 0 || v > seq[j - 1]!), `subscriber QoS ${k} in order`);
          const qos1 = Array.from({ length: n }, (_, i) => i).filter((i) =>
            i % 2 === 1 || i % 100 === 99
          );
          if (k > 0) assert.deepEqual(seq.filter((i) => qos1.includes(i)), qos1);
        }
      },
    );
  } finally {
    if (Deno.env.get("T28R2_DEBUG")) console.log(broker.logs().slice(-4000));
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
