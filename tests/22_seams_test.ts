/**
 * Integration suite 22: the asynchronous-work seam of issue #11, seen from the wire. The broker
 * runs with CULEX_TEST_HOOKS=1, which adds an authenticator that answers later (user name
 * `culex-test-slow`, password `allow:<ms>` / `deny:<ms>`) and an authorization source that
 * answers after 200 ms for topics `culex-test/slow-authz/{allow|deny}/...`. A client that sends
 * CONNECT, SUBSCRIBE and PUBLISH in one write while its CONNECT is still being decided must get
 * CONNACK, SUBACK, its own message and PUBACK, in that order; a refused CONNECT must not let the
 * packets behind it through; packets behind a slow authorization wait in order; and more held
 * bytes than mqtt.max_held_bytes pause the socket without losing anything. 1 and 4 shards, MQTT
 * 3.1.1 and 5.0. Spec: [MQTT-3.1.4-6] nothing but CONNECT is processed before the CONNACK; 4.6
 * message ordering; [MQTT-3.9.3] SUBACK failure codes.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  concat,
  connectPacket,
  PacketType,
  parseAck,
  parseConnack,
  parsePublish,
  parseSuback,
  publishPacket,
  RawClient,
  subscribePacket,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

const SLOW_USER = "culex-test-slow";
const NOT_AUTHORIZED = 0x87;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `22 seams: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({
      shards,
      env: { CULEX_TEST_HOOKS: "1" },
      sets: ["mqtt.max_held_bytes=64KB", "log.level=debug"],
    }, async (broker) => {
      for (const v of VERSIONS) {
        const id = (name: string, shard = 0) => clientIdForShard(shard, shards, `c22${v}${name}`);
        const topic = `t22/${tag}/v${v}`;

        await t.step(
          `v${v}: SUBSCRIBE and PUBLISH sent behind a CONNECT that is decided later are answered in order [MQTT-3.1.4-6]`,
          async () => {
            const raw = await RawClient.connect(broker.port);
            try {
              await raw.send(concat([
                connectPacket({
                  version: v,
                  clientId: id("a"),
                  username: SLOW_USER,
                  password: "allow:300",
                }),
                subscribePacket(v, 1, [{ topic: `${topic}/a`, qos: 1 }]),
                publishPacket({
                  version: v,
                  topic: `${topic}/a`,
                  payload: "first",
                  qos: 1,
                  packetId: 2,
                }),
              ]));
              const connack = parseConnack(await raw.expectPacket("CONNACK"), v);
              assertEquals(connack.code, 0, "CONNACK accepted");
              const suback = parseSuback(await raw.expectPacket("SUBACK"), v);
              assertEquals(suback, { packetId: 1, codes: [1] }, "SUBACK");
              // The broker's PUBLISH to us and its PUBACK may come in either order; both must come.
              const next = [
                await raw.expectPacket("PUBLISH or PUBACK"),
                await raw.expectPacket("PUBACK or PUBLISH"),
              ];
              const pub = next.find((p) => p.type === PacketType.PUBLISH);
              const ack = next.find((p) => p.type === PacketType.PUBACK);
              assertEquals(pub && parsePublish(pub, v).payload, "first", "own message delivered");
              assertEquals(ack && parseAck(ack).packetId, 2, "PUBACK for packet 2");
            } finally {
              await raw.close();
            }
          },
        );

        await t.step(`v${v}: a CONNECT refused later lets nothing behind it through`, async () => {
          const raw = await RawClient.connect(broker.port);
          try {
            await raw.send(concat([
              connectPacket({
                version: v,
                clientId: id("d"),
                username: SLOW_USER,
                password: "deny:200",
              }),
              subscribePacket(v, 1, [{ topic: `${topic}/d`, qos: 1 }]),
            ]));
            const connack = parseConnack(await raw.expectPacket("CONNACK"), v);
            // 5.0: 0x86 Bad User Name or Password; 3.1.1: return code 4 (same meaning).
            assertEquals(connack.code, v === 5 ? 0x86 : 4, "CONNACK refused");
            await raw.expectClose("after the refused CONNACK");
          } finally {
            await raw.close();
          }
        });

        await t.step(
          `v${v}: packets behind a slow authorization wait in order; a denied PUBLISH is acknowledged ${
            v === 5 ? "with 0x87" : "and dropped"
          }`,
          async () => {
            const { raw } = await RawClient.open(broker.port, { version: v, clientId: id("z") });
            try {
              const slow = "culex-test/slow-authz";
              await raw.send(concat([
                subscribePacket(v, 1, [
                  { topic: `${slow}/allow/${tag}/#`, qos: 1 },
                  { topic: `${slow}/deny/${tag}/#`, qos: 1 },
                ]),
                publishPacket({
                  version: v,
                  topic: `${slow}/deny/${tag}/x`,
                  payload: "no",
                  qos: 1,
                  packetId: 2,
                }),
                publishPacket({
                  version: v,
                  topic: `${slow}/allow/${tag}/x`,
                  payload: "yes",
                  qos: 1,
                  packetId: 3,
                }),
              ]));
              const suback = parseSuback(await raw.expectPacket("SUBACK"), v);
              assertEquals(suback.codes, [1, v === 5 ? NOT_AUTHORIZED : 0x80], "SUBACK per filter");
              const denied = parseAck(await raw.expectPacket("PUBACK of the denied PUBLISH"));
              assertEquals(denied, { packetId: 2, reason: v === 5 ? NOT_AUTHORIZED : 0 }, "denied");
              const rest = [
                await raw.expectPacket("PUBLISH or PUBACK"),
                await raw.expectPacket("PUBACK or PUBLISH"),
              ];
              const pub = rest.find((p) => p.type === PacketType.PUBLISH);
              const ack = rest.find((p) => p.type === PacketType.PUBACK);
              assertEquals(pub && parsePublish(pub, v).payload, "yes", "only the allowed message");
              assertEquals(ack && parseAck(ack).packetId, 3, "PUBACK 3 after PUBACK 2");
            } finally {
              await raw.close();
            }
          },
        );

        await t.step(
          `v${v}: more held bytes than mqtt.max_held_bytes pause the socket; nothing is lost`,
          async () => {
            const raw = await RawClient.connect(broker.port);
            const count = 300; // 300 × ~1 KB ≫ 64 KB held
            try {
              const packets = [
                connectPacket({
                  version: v,
                  clientId: id("h"),
                  username: SLOW_USER,
                  password: "allow:500",
                }),
              ];
              for (let i = 1; i <= count; i++) {
                packets.push(
                  publishPacket({
                    version: v,
                    topic: `${topic}/h`,
                    payload: "x".repeat(1000),
                    qos: 1,
                    packetId: i,
                  }),
                );
              }
              await raw.send(concat(packets));
              assertEquals(parseConnack(await raw.expectPacket("CONNACK"), v).code, 0, "CONNACK");
              const ids: number[] = [];
              for (let i = 0; i < count; i++) {
                ids.push(parseAck(await raw.expectPacket(`PUBACK ${i + 1}`)).packetId);
              }
              assertEquals(
                ids,
                Array.from({ length: count }, (_, i) => i + 1),
                "every PUBACK, in order",
              );
              assert(
                broker.logs().includes(`Connection ${raw.peer} reading paused by its channel`),
                "the socket was paused while the CONNECT was pending",
              );
            } finally {
              await raw.close();
            }
          },
        );
      }
    });
  });
}

// Route before SUBACK under congestion (issue #11, item 7). Shard 1 is stalled by a test fault;
// a client of shard 0 floods QoS 0 messages routed to shard 1 (more than a 64 KB ring holds, so
// the rest parks in shard 0's overflow) and subscribes in the same write. Its SUBACK must wait
// until the route record is in the ring to shard 1, so that a PUBLISH a client of shard 1 sends
// after seeing the SUBACK is routed to it (DESIGN.md, ordering rules).
Deno.test(
  { name: "22 seams: a SUBACK under a congested peer ring is followed by a delivery" },
  async () => {
    const tag = runTag();
    const shards = 2;
    await withBroker({
      shards,
      env: { CULEX_TEST_HOOKS: "1" },
      sets: ["ipc.ring_size=64KB", "mqtt.max_packet_size=16KB", "log.level=debug"],
    }, async (broker) => {
      const id = (name: string, shard: number) => clientIdForShard(shard, shards, `c22r${name}`);
      const flood = `t22r/${tag}/flood`;
      const fresh = `t22r/${tag}/fresh`;
      const sink = await connect(broker.url, { protocolVersion: 5, clientId: id("sink", 1) });
      const staller = await connect(broker.url, { protocolVersion: 5, clientId: id("stall", 1) });
      const late = await connect(broker.url, { protocolVersion: 5, clientId: id("late", 1) });
      const { raw } = await RawClient.open(broker.port, { version: 5, clientId: id("sub", 0) });
      try {
        await subscribe(sink, flood, { qos: 0 });
        // Shard 1 blocks its loop for 2.5 s; its PUBACK comes after, so do not wait for it.
        const stalled = publish(staller, "$culex/fault/stall-shard", "2500", { qos: 1 });
        // The flood must meet the stall: on a loaded machine the stall can begin late, the
        // flood then drains and nothing is congested. The shard logs before it blocks.
        for (let i = 0; i < 100 && !broker.logs().includes("stalls for 2500 ms"); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert(broker.logs().includes("stalls for 2500 ms"), "shard 1 began its stall");
        const packets = [];
        for (let i = 0; i < 100; i++) {
          packets.push(
            publishPacket({ version: 5, topic: flood, payload: "f".repeat(1000), qos: 0 }),
          );
        }
        packets.push(subscribePacket(5, 7, [{ topic: fresh, qos: 1 }]));
        await raw.send(concat(packets));
        const suback = parseSuback(await raw.expectPacket("SUBACK", 10_000), 5);
        assertEquals(suback, { packetId: 7, codes: [1] }, "SUBACK");
        await publish(late, fresh, "after the SUBACK", { qos: 1 });
        // Shard 1 is just out of its stall with the flood to handle: give a loaded machine time.
        const got = parsePublish(
          await raw.expectPacket("the PUBLISH sent after the SUBACK", 15_000),
          5,
        );
        assertEquals([got.topic, got.payload], [fresh, "after the SUBACK"], "delivered");
        assert(
          broker.logs().includes("waits for congested peer rings"),
          "the SUBACK waited for a parked route record (the congested path was taken)",
        );
        await stalled;
        await collect(sink, 100, 10_000); // the flood was not lost either
      } finally {
        await raw.close();
        await closeAll([sink, staller, late]);
      }
    });
  },
);
