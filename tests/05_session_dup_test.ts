/**
 * Integration suite 05 (DUP redelivery): unacknowledged QoS 1 and QoS 2 messages resent with DUP
 * when a persistent session reconnects (raw bytes), and issue #2's "Done when" scenario with the
 * real mosquitto_sub/mosquitto_pub. Persistent sessions themselves: 05_session_test.ts.
 *
 * Judged per MQTT 3.1.1 sections 4.1 and 4.4 and MQTT 5.0 sections 3.1.2.11.2 and 4.4.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  publish,
  runTag,
  shardOfKey,
} from "./_helpers/clients.ts";
import { mosquittoPub, spawnMosquittoSub } from "./_helpers/mosquitto.ts";
import {
  type ConnectFields,
  PacketType,
  parseAck,
  parsePublish,
  parseSuback,
  pubackPacket,
  pubrecPacket,
  RawClient,
  subscribePacket,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";
import { discardSession, EXPIRY_S } from "./_helpers/sessions.ts";

const QUIET_MS = 500;

/**
 * Opens the raw persistent session `fields`, subscribes it to `topic` at `qos` (granted), has
 * `pub` publish `payload` at that QoS, checks the first delivery (not DUP) and closes without
 * acknowledging it. Resolves to the delivery's packet id.
 */
async function deliveredUnacked(
  port: number,
  fields: ConnectFields,
  pub: MqttClient,
  topic: string,
  payload: string,
  qos: 1 | 2,
): Promise<number> {
  const v = fields.version;
  const c = await RawClient.open(port, fields);
  try {
    await c.raw.send(subscribePacket(v, 1, [{ topic, qos }]));
    assertEquals(parseSuback(await c.raw.expectPacket("SUBACK"), v).codes, [qos], "granted");
    await publish(pub, topic, payload, { qos });
    const m = parsePublish(await c.raw.expectPacket("PUBLISH"), v);
    assertEquals([m.payload, m.qos, m.dup], [payload, qos, false], "first delivery");
    assert(m.packetId !== null, "packet id");
    return m.packetId;
  } finally {
    await c.raw.close(); // no PUBACK / PUBREC
  }
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `05 session dup: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t05/${tag}/v${v}`;

        await t.step(
          `v${v}: an unacknowledged QoS 1 message is resent with DUP on reconnect [MQTT-4.4.0-1]`,
          async () => {
            const subId = clientIdForShard(0, shards, `c05dup${v}`);
            const pubId = clientIdForShard(1, shards, `c05dupp${v}`);
            const fields = { version: v, clientId: subId, clean: false, sessionExpiry: EXPIRY_S };
            const topic = `${base}/dup1`;
            const pub = await connect(broker.url, { protocolVersion: v, clientId: pubId });
            try {
              const firstId = await deliveredUnacked(broker.port, fields, pub, topic, "unacked", 1);
              const again = await RawClient.open(broker.port, fields);
              try {
                assertEquals(again.connack.sessionPresent, true, "session present");
                const p = await again.raw.expectPacket("resent PUBLISH");
                const m = parsePublish(p, v);
                // Same packet id, DUP 1 [MQTT-3.3.1-1].
                assertEquals(
                  [m.topic, m.payload, m.qos, m.dup, m.packetId],
                  [topic, "unacked", 1, true, firstId],
                  "redelivery",
                );
                await again.raw.send(pubackPacket(firstId));
                await again.raw.expectSilence("nothing after PUBACK", QUIET_MS);
              } finally {
                await again.raw.close();
              }
              // Acknowledged now: a third connection gets nothing more.
              const third = await RawClient.open(broker.port, fields);
              try {
                await third.raw.expectSilence("no redelivery of an acknowledged message", QUIET_MS);
              } finally {
                await third.raw.close();
              }
            } finally {
              await closeAll([pub]);
              await discardSession(broker.url, v, subId);
            }
          },
        );

        await t.step(
          `v${v}: QoS 2 on reconnect: unacknowledged PUBLISH resent with DUP, then PUBREL resent [MQTT-4.4.0-1]`,
          async () => {
            const subId = clientIdForShard(0, shards, `c05q2r${v}`);
            const pubId = clientIdForShard(1, shards, `c05q2rp${v}`);
            const fields = { version: v, clientId: subId, clean: false, sessionExpiry: EXPIRY_S };
            const topic = `${base}/dup2`;
            const pub = await connect(broker.url, { protocolVersion: v, clientId: pubId });
            try {
              // 1. PUBLISH received, no PUBREC: resent as PUBLISH with DUP 1.
              const pid = await deliveredUnacked(broker.port, fields, pub, topic, "twice?", 2);
              // 2. Resent PUBLISH, answered with PUBREC; the PUBREL arrives, left unanswered.
              const c2 = await RawClient.open(broker.port, fields);
              try {
                const m = parsePublish(await c2.raw.expectPacket("resent PUBLISH"), v);
                assertEquals(
                  [m.payload, m.qos, m.dup, m.packetId],
                  ["twice?", 2, true, pid],
                  "resent",
                );
                await c2.raw.send(pubrecPacket(pid));
                const rel = await c2.raw.expectPacket("PUBREL");
                assertEquals(
                  [rel.type, parseAck(rel).packetId],
                  [PacketType.PUBREL, pid],
                  "PUBREL",
                );
              } finally {
                await c2.raw.close();
              }
              // 3. The PUBREL is resent, never the PUBLISH again ([MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-6] in 5.0).
              const c3 = await RawClient.open(broker.port, fields);
              try {
                const rel = await c3.raw.expectPacket("resent PUBREL");
                assertEquals(
                  [rel.type, rel.flags, parseAck(rel).packetId],
                  [PacketType.PUBREL, 2, pid],
                  "PUBREL resent with the original packet id",
                );
                await c3.raw.send(Uint8Array.from([0x70, 0x02, pid >> 8, pid & 0xff]));
                await c3.raw.expectSilence("nothing after PUBCOMP", QUIET_MS);
              } finally {
                await c3.raw.close();
              }
            } finally {
              await closeAll([pub]);
              await discardSession(broker.url, v, subId);
            }
          },
        );

        await t.step(
          `v${v}: issue #2 "Done when": mosquitto_sub -c, stopped, QoS 2 publishes, restarted`,
          async () => {
            // mosquitto_sub -h 127.0.0.1 -t 'a/#' -q 2 -c -i s1, stopped, then messages published
            // at QoS 2, then restarted: receives every queued message exactly once.
            const id = v === 4 ? "s1" : "s1v5";
            const version = v === 4 ? "mqttv311" : "mqttv5";
            const pubId = clientIdForShard(
              (shardOfKey(id, shards) + 1) % shards,
              shards,
              `c05dwp${v}`,
            );
            const n = 10;
            const sub1 = spawnMosquittoSub({
              port: broker.port,
              version,
              clientId: id,
              qos: 2,
              topics: ["a/#"],
              persistent: true,
              debug: true,
              waitSeconds: 20,
            });
            try {
              await sub1.waitFor(/received SUBACK/, 10_000);
            } finally {
              // v4: killed outright (the broker sees the socket drop); v5: Ctrl-C, which sends
              // DISCONNECT. mosquitto_sub 2.0.11 can deadlock in its SIGINT handler, so SIGKILL
              // follows after 3 s; the session must survive either way.
              sub1.signal(v === 4 ? "SIGKILL" : "SIGINT");
              await sub1.finish(3_000);
            }
            try {
              const expected: string[] = [];
              for (let i = 0; i < n; i++) {
                const topic = `a/${tag}/${i}`;
                const message = `queued-${v}-${i}`;
                await mosquittoPub({
                  port: broker.port,
                  version,
                  clientId: pubId,
                  qos: 2,
                  topic,
                  message,
                });
                expected.push(`${topic} ${message}`);
              }
              const sub2 = spawnMosquittoSub({
                port: broker.port,
                version,
                clientId: id,
                qos: 2,
                topics: ["a/#"],
                persistent: true,
                count: n,
                waitSeconds: 10,
                format: "%t %p",
              });
              const r = await sub2.finish();
              const lines = r.stdout.split("\n").filter((l) => l.length > 0);
              assertEquals(
                lines.sort(),
                expected.sort(),
                `messages received after restart (${r.stderr})`,
              );
              assertEquals(r.code, 0, "mosquitto_sub exit code");
            } finally {
              await discardSession(broker.url, v, id);
            }
          },
        );
      }
    });
  });
}
