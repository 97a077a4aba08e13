/**
 * Integration suite 27 (durable sessions, issue 13): a QoS 1 message picked for a shared
 * subscription member on another shard is committed to that member's session before the
 * publisher gets its PUBACK [MQTT-4.3.2-4: the sender may discard the message once PUBACK came],
 * so a kill -9 right after the PUBACK loses nothing. The member's shard is stalled (test hook
 * `$culex/fault/stall-shard`) while the message is routed to it: without the commit token on
 * the shared delivery the PUBACK came during the stall and the message died with the process.
 *
 * Broker: a real process, 2 shards, durable sessions on, restarted on the same data_dir.
 */

import type { MqttClient } from "mqtt";
import { assert } from "./_helpers/assert.ts";
import { type BrokerHandle, brokerKind, startBroker } from "./_helpers/broker.ts";
import { clientIdForShard, sleep } from "./_helpers/clients.ts";
import { connected, freePort, persistent } from "./_helpers/durable.ts";

const STALL_MS = 2500;

Deno.test({
  name: "27 durable: a shared member's message on another shard is committed before the PUBACK",
  ignore: brokerKind() !== "culex",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27s_" });
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const start = () =>
      startBroker({
        dataDir: dir,
        shards: 2,
        env: { CULEX_TEST_HOOKS: "1" },
        sets: ["durable_sessions.enable=true", `listeners.tcp.default.bind=127.0.0.1:${port}`],
      });
    let broker: BrokerHandle = await start();
    const clients: MqttClient[] = [];
    try {
      // The member and the staller on shard 1, the publisher on shard 0.
      const member = persistent(url, clientIdForShard(1, 2, "s27member"), 5);
      const staller = persistent(url, clientIdForShard(1, 2, "s27stall"), 5);
      const publisher = persistent(url, clientIdForShard(0, 2, "s27pub"), 5);
      clients.push(member, staller, publisher);
      await Promise.all([member, staller, publisher].map((c) => connected(c, 10_000)));
      await member.subscribeAsync("$share/g27/s27/#", { qos: 1 });
      const got: string[] = [];
      member.on("message", (_t, p) => got.push(new TextDecoder().decode(p)));

      // Shard 1 stops handling anything for STALL_MS; the publish lands in its ring meanwhile.
      await staller.publishAsync("$culex/fault/stall-shard", String(STALL_MS), { qos: 0 });
      await sleep(300);
      await publisher.publishAsync("s27/x", "kept", { qos: 1 });
      // PUBACK received: the message is the broker's now. Kill at once.
      broker.kill();
      await broker.stop();

      broker = await start();
      await connected(member, 15_000);
      for (let i = 0; i < 100 && !got.includes("kept"); i++) await sleep(100);
      assert(
        got.includes("kept"),
        `the acknowledged message reached the shared member after the restart (got ${
          JSON.stringify(got)
        })`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await broker.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
