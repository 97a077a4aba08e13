/**
 * Integration suite 27 (durable sessions under kill -9, issue 13): a QoS 1 and a QoS 2 flood
 * from publishers on different shards into two persistent subscribers (one online during the
 * flood, one offline) while the broker is killed with SIGKILL at random instants and restarted
 * with another shard count. npm:mqtt clients with persistent sessions reconnect on their own
 * and resend what was not acknowledged [MQTT-4.4.0-1]. At the end every message is delivered to
 * both subscribers: QoS 2 exactly once [MQTT-4.3.3], QoS 1 at least once [MQTT-4.3.2].
 *
 * Brokers: real processes on one data_dir and one port: 2 shards, then 3, then 2.
 * The kill instants come from a seed printed on failure (CULEX_27_SEED=n replays it).
 */

import type { MqttClient } from "mqtt";
import { assert } from "./_helpers/assert.ts";
import { type BrokerHandle, brokerKind, startBroker } from "./_helpers/broker.ts";
import { clientIdForShard, sleep } from "./_helpers/clients.ts";
import { connected, freePort, persistent } from "./_helpers/durable.ts";

const N = 400; // messages per publisher
const WINDOW = 16; // publishes in flight per publisher

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Counts each payload a subscriber gets. */
function counter(c: MqttClient): Map<string, number> {
  const seen = new Map<string, number>();
  c.on("message", (_t, payload) => {
    const p = new TextDecoder().decode(payload);
    seen.set(p, (seen.get(p) ?? 0) + 1);
  });
  return seen;
}

/** Publishes `prefix-0..N-1` with WINDOW in flight; resolves when all were acknowledged. */
async function flood(c: MqttClient, prefix: string, qos: 1 | 2, acked: Set<string>) {
  let next = 0;
  const lane = async () => {
    while (next < N) {
      const payload = `${prefix}-${next++}`;
      for (;;) {
        try {
          await c.publishAsync(`k27/${prefix}`, payload, { qos });
          break;
        } catch (e) {
          // PUBCOMP 0x92: the broker completed this QoS 2 flow before the kill, the client
          // resent PUBREL because the PUBCOMP was lost with the connection. PUBREC had come:
          // the message was acknowledged [MQTT-4.3.3].
          if (String(e).includes("Packet Identifier not found")) break;
          // npm:mqtt gives up on publishes it queued while resending its stored ones and the
          // connection closed again: they never left it, so publishing anew is no duplicate.
          if (!String(e).includes("Connection closed")) throw e;
          await sleep(50);
        }
      }
      acked.add(payload);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

Deno.test({
  name: "27 durable: kill -9 during a QoS 1/2 flood loses nothing acknowledged, QoS 2 once",
  ignore: brokerKind() !== "culex",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = Number(Deno.env.get("CULEX_27_SEED") ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27k_" });
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const sets = [
      "durable_sessions.enable=true",
      `listeners.tcp.default.bind=127.0.0.1:${port}`,
      "mqtt.max_mqueue_len=100000",
    ];
    const start = (shards: number) => startBroker({ dataDir: dir, shards, sets });
    let broker: BrokerHandle = await start(2);
    const clients: MqttClient[] = [];
    const logs: string[] = [];
    try {
      const subOn = persistent(url, clientIdForShard(0, 2, "k27on"), 5);
      const subOff = persistent(url, clientIdForShard(1, 2, "k27off"), 4);
      clients.push(subOn, subOff);
      await Promise.all([connected(subOn, 10_000), connected(subOff, 10_000)]);
      await subOn.subscribeAsync("k27/#", { qos: 2 });
      await subOff.subscribeAsync("k27/#", { qos: 2 });
      await subOff.endAsync(); // offline from now on, its session kept (3.1.1 clean session 0)
      const onSeen = counter(subOn);
      const pub1 = persistent(url, clientIdForShard(1, 2, "k27p1"), 4);
      const pub2 = persistent(url, clientIdForShard(0, 2, "k27p2"), 5);
      clients.push(pub1, pub2);
      await Promise.all([connected(pub1, 10_000), connected(pub2, 10_000)]);
      const acked = new Set<string>();
      const killedAt: number[] = [];
      const flooding = Promise.all([flood(pub1, "q1", 1, acked), flood(pub2, "q2", 2, acked)]);
      // Two kills at random instants of the flood, each followed by a restart with other shards.
      for (const shards of [3, 2]) {
        const before = acked.size;
        const deadline = Date.now() + 20_000;
        const at = 40 + Math.floor(random() * 300); // acknowledged messages before the kill
        while (acked.size < Math.min(before + at, 2 * N) && Date.now() < deadline) await sleep(2);
        await sleep(Math.floor(random() * 20));
        broker.kill();
        killedAt.push(acked.size);
        logs.push(broker.logs());
        await broker.stop();
        broker = await start(shards);
      }
      await Promise.race([
        flooding,
        sleep(30_000).then(() => {
          throw new Error(`flood did not finish: ${acked.size} of ${2 * N} acknowledged`);
        }),
      ]);
      // Everything was acknowledged; now the offline subscriber comes back.
      const offSeen = new Map<string, number>();
      const subOff2 = persistent(url, clientIdForShard(1, 2, "k27off"), 4);
      clients.push(subOff2);
      subOff2.on("message", (_t, payload) => {
        const p = new TextDecoder().decode(payload);
        offSeen.set(p, (offSeen.get(p) ?? 0) + 1);
      });
      const deadline = Date.now() + 30_000;
      while ((onSeen.size < 2 * N || offSeen.size < 2 * N) && Date.now() < deadline) {
        await sleep(50);
      }
      await sleep(300); // late duplicates, if any, arrive now
      const why = `seed ${seed}; acked ${acked.size}, killed after ${killedAt}`;
      // The kills came during the flood, not after it.
      assert(killedAt.every((n) => n < 2 * N), `killed after the flood: ${why}`);
      for (const [name, seen] of [["online", onSeen], ["offline", offSeen]] as const) {
        const missing = [...acked].filter((p) => !seen.has(p));
        assert(missing.length === 0, `${name} subscriber misses ${missing.slice(0, 10)} (${why})`);
        const twice = [...seen].filter(([p, n]) => p.startsWith("q2-") && n > 1);
        assert(
          twice.length === 0,
          `${name} got QoS 2 more than once: ${twice.slice(0, 10)} (${why})`,
        );
      }
    } catch (e) {
      console.error(`CULEX_27_SEED=${seed}\n${logs.join("\n---\n")}\n---\n${broker.logs()}`);
      throw e;
    } finally {
      for (const c of clients) c.end(true);
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
