/**
 * Integration suite 03: PUBLISH at QoS 0, 1 and 2 in both directions and across shards, QoS
 * downgrade, per-publisher ordering, topic name validation, and the QoS 1/2 handshakes on the
 * wire (raw bytes).
 *
 * Judged per MQTT 3.1.1 sections 3.3 and 4.3–4.6 and MQTT 5.0 sections 3.3 and 4.3–4.6.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  hex,
  PacketType,
  parseAck,
  parsePublish,
  parseSuback,
  pubcompPacket,
  publishPacket,
  pubrecPacket,
  pubrelPacket,
  RawClient,
  type RawPacket,
  subscribePacket,
} from "./_helpers/raw_client.ts";
import { connectPair, SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

const QUIET_MS = 500;
const QOS = [0, 1, 2] as const;

/** Checks an acknowledgement: exact 2-byte form for 3.1.1, success reason for 5.0. */
function assertAck(p: RawPacket, type: number, flags: number, packetId: number, v: 4 | 5): void {
  const what = `packet type ${type} for id ${packetId} (${hex(p.bytes)})`;
  assertEquals([p.type, p.flags], [type, flags], `${what}: type and flags`);
  const ack = parseAck(p);
  assertEquals(ack.packetId, packetId, `${what}: packet id [MQTT-2.3.1-6]`);
  if (v === 4) assertEquals(p.body.length, 2, `${what}: 3.1.1 remaining length`);
  else assert(ack.reason < 0x80, `${what}: 5.0 reason code ${ack.reason} is success`);
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `03 publish: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t03/${tag}/v${v}`;

        await t.step(
          `v${v}: every publish QoS × subscription QoS, both directions [MQTT-3.8.4-6]`,
          async () => {
            // a and b sit on different shards; each subscribes to its own inbox topic at every
            // QoS, and each publishes to the other's, so both directions cross shards.
            const { sub: a, pub: b } = await connectPair(broker.url, v, shards, `c03mx${v}`);
            try {
              for (const subQos of QOS) {
                await subscribe(a, `${base}/mx/a/${subQos}`, { qos: subQos });
                await subscribe(b, `${base}/mx/b/${subQos}`, { qos: subQos });
              }
              for (const [from, to, name] of [[b, a, "a"], [a, b, "b"]] as const) {
                for (const pubQos of QOS) {
                  for (const subQos of QOS) {
                    const payload = `${pubQos}->${subQos}`;
                    await publish(from, `${base}/mx/${name}/${subQos}`, payload, {
                      qos: pubQos,
                    });
                    const [m] = await collect(to, 1, 5_000);
                    assert(m, "one message");
                    assertEquals(
                      [m.payload, m.packet.qos],
                      [payload, Math.min(pubQos, subQos)],
                      `to ${name}: published at QoS ${pubQos}, subscribed at QoS ${subQos}`,
                    );
                  }
                }
                await expectNone(to, QUIET_MS);
              }
            } finally {
              await closeAll([a, b]);
            }
          },
        );

        await t.step(`v${v}: QoS 2 publish to a QoS 1 subscription arrives at QoS 1`, async () => {
          const { sub, pub } = await connectPair(broker.url, v, shards, `c03dg${v}`);
          try {
            await subscribe(sub, `${base}/dg`, { qos: 1 });
            await publish(pub, `${base}/dg`, "downgraded", { qos: 2 });
            const [m] = await collect(sub, 1, 5_000);
            assertEquals([m?.payload, m?.packet.qos], ["downgraded", 1], "delivered QoS");
            await expectNone(sub, QUIET_MS);
          } finally {
            await closeAll([sub, pub]);
          }
        });

        await t.step(
          `v${v}: 200 QoS 1 messages from one publisher arrive in order [MQTT-4.6.0-6]`,
          async () => {
            const { sub, pub } = await connectPair(broker.url, v, shards, `c03ord${v}`);
            try {
              await subscribe(sub, `${base}/ord`, { qos: 1 });
              const n = 200;
              await Promise.all(
                Array.from(
                  { length: n },
                  (_, i) => publish(pub, `${base}/ord`, `${i}`, { qos: 1 }),
                ),
              );
              const got = await collect(sub, n, 20_000);
              const seq = got.map((m) => Number(m.payload));
              assertEquals(seq, Array.from({ length: n }, (_, i) => i), "order of delivery");
              await expectNone(sub, QUIET_MS);
            } finally {
              await closeAll([sub, pub]);
            }
          },
        );

        await t.step(`v${v}: a 256 KiB payload crosses shards intact`, async () => {
          const { sub, pub } = await connectPair(broker.url, v, shards, `c03big${v}`);
          try {
            await subscribe(sub, `${base}/big`, { qos: 1 });
            const payload = "0123456789abcdef".repeat(16 * 1024);
            await publish(pub, `${base}/big`, payload, { qos: 1 });
            const [m] = await collect(sub, 1, 10_000);
            assertEquals(m?.payload.length, payload.length, "payload length");
            assert(m?.payload === payload, "payload bytes");
          } finally {
            await closeAll([sub, pub]);
          }
        });

        await t.step(
          `v${v}: wildcard in a PUBLISH topic closes the connection [MQTT-3.3.2-2]`,
          async () => {
            const subId = clientIdForShard(0, shards, `c03wcs${v}`);
            const sub = await connect(broker.url, { protocolVersion: v, clientId: subId });
            try {
              await subscribe(sub, `${base}/wc/#`, { qos: 1 });
              for (const topic of [`${base}/wc/+`, `${base}/wc/#`, `${base}/wc/a+b`]) {
                const id = clientIdForShard(1, shards, `c03wc${v}`);
                const { raw } = await RawClient.open(broker.port, { version: v, clientId: id });
                try {
                  await raw.send(
                    publishPacket({ version: v, topic, payload: "x", qos: 1, packetId: 1 }),
                  );
                  // 5.0 lets the server send DISCONNECT 0x90 Topic Name invalid first; no PUBACK.
                  await raw.expectClose(`after PUBLISH to ${topic}`, {
                    allow: (p) => v === 5 && p.type === PacketType.DISCONNECT,
                  });
                } finally {
                  await raw.close();
                }
              }
              await expectNone(sub, QUIET_MS);
            } finally {
              await closeAll([sub]);
            }
          },
        );

        await t.step(`v${v}: inbound QoS 1 on the wire: PUBLISH → PUBACK`, async () => {
          const sub = await connect(broker.url, {
            protocolVersion: v,
            clientId: clientIdForShard(0, shards, `c03q1s${v}`),
          });
          const id = clientIdForShard(1, shards, `c03q1p${v}`);
          const { raw } = await RawClient.open(broker.port, { version: v, clientId: id });
          try {
            await subscribe(sub, `${base}/q1`, { qos: 1 });
            await raw.send(
              publishPacket({
                version: v,
                topic: `${base}/q1`,
                payload: "one",
                qos: 1,
                packetId: 0x0102,
              }),
            );
            assertAck(await raw.expectPacket("PUBACK"), PacketType.PUBACK, 0, 0x0102, v);
            const [m] = await collect(sub, 1, 5_000);
            assertEquals([m?.payload, m?.packet.qos], ["one", 1], "delivered");
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        });

        await t.step(
          `v${v}: inbound QoS 2 on the wire; a duplicate before PUBREL is not delivered twice [MQTT-4.3.3-2]`,
          async () => {
            const sub = await connect(broker.url, {
              protocolVersion: v,
              clientId: clientIdForShard(0, shards, `c03q2s${v}`),
            });
            const id = clientIdForShard(1, shards, `c03q2p${v}`);
            const { raw } = await RawClient.open(broker.port, { version: v, clientId: id });
            try {
              const topic = `${base}/q2in`;
              await subscribe(sub, topic, { qos: 2 });
              const pid = 10;
              await raw.send(
                publishPacket({ version: v, topic, payload: "first", qos: 2, packetId: pid }),
              );
              assertAck(await raw.expectPacket("PUBREC"), PacketType.PUBREC, 0, pid, v);
              // Re-sent with DUP before PUBREL: acknowledged again, not delivered again.
              await raw.send(
                publishPacket({
                  version: v,
                  topic,
                  payload: "first",
                  qos: 2,
                  packetId: pid,
                  dup: true,
                }),
              );
              assertAck(await raw.expectPacket("PUBREC again"), PacketType.PUBREC, 0, pid, v);
              await raw.send(pubrelPacket(pid));
              assertAck(await raw.expectPacket("PUBCOMP"), PacketType.PUBCOMP, 0, pid, v);
              const got = await collect(sub, 1, 5_000);
              assertEquals(
                got.map((m) => [m.payload, m.packet.qos]),
                [["first", 2]],
                "delivered once",
              );
              await expectNone(sub, QUIET_MS);
              // After PUBCOMP the same packet id starts a new publication.
              await raw.send(
                publishPacket({ version: v, topic, payload: "second", qos: 2, packetId: pid }),
              );
              assertAck(await raw.expectPacket("PUBREC (new)"), PacketType.PUBREC, 0, pid, v);
              await raw.send(pubrelPacket(pid));
              assertAck(await raw.expectPacket("PUBCOMP (new)"), PacketType.PUBCOMP, 0, pid, v);
              const again = await collect(sub, 1, 5_000);
              assertEquals(
                again.map((m) => m.payload),
                ["second"],
                "the reused id is a new message",
              );
            } finally {
              await raw.close();
              await closeAll([sub]);
            }
          },
        );

        await t.step(
          `v${v}: outbound QoS 2 on the wire: PUBLISH, PUBREC → PUBREL (again on a repeated PUBREC), PUBCOMP`,
          async () => {
            const subId = clientIdForShard(0, shards, `c03q2o${v}`);
            const { raw } = await RawClient.open(broker.port, { version: v, clientId: subId });
            const pub = await connect(broker.url, {
              protocolVersion: v,
              clientId: clientIdForShard(1, shards, `c03q2op${v}`),
            });
            try {
              const topic = `${base}/q2out`;
              await raw.send(subscribePacket(v, 1, [{ topic, qos: 2 }]));
              assertEquals(parseSuback(await raw.expectPacket("SUBACK"), v).codes, [2], "granted");
              await publish(pub, topic, "exactly once", { qos: 2 });
              const p = await raw.expectPacket("PUBLISH");
              const m = parsePublish(p, v);
              assertEquals(
                [m.topic, m.payload, m.qos, m.dup],
                [topic, "exactly once", 2, false],
                "PUBLISH",
              );
              assert(m.packetId !== null && m.packetId > 0, "non-zero packet id [MQTT-2.3.1-1]");
              await raw.send(pubrecPacket(m.packetId));
              const rel = await raw.expectPacket("PUBREL");
              // PUBREL fixed header flags are 0010 [MQTT-3.6.1-1].
              assertAck(rel, PacketType.PUBREL, 0x2, m.packetId, v);
              // A repeated PUBREC: the id is in use until PUBCOMP, so PUBREL again, with success
              // (5.0: not 0x92, "not found") [MQTT-4.3.3-4].
              await raw.send(pubrecPacket(m.packetId));
              const again = await raw.expectPacket("PUBREL after a repeated PUBREC");
              assertAck(again, PacketType.PUBREL, 0x2, m.packetId, v);
              await raw.send(pubcompPacket(m.packetId));
              await raw.expectSilence("nothing after PUBCOMP", QUIET_MS);
            } finally {
              await raw.close();
              await closeAll([pub]);
            }
          },
        );
      }
    });
  });
}
