/**
 * Integration suite 12 (flow): MQTT 5.0 flow control and packet-level limits on the wire —
 * Receive Maximum both ways and the broker's Maximum Packet Size. Topic aliases are in
 * 12_mqtt5_alias_test.ts.
 *
 * Broker: --set mqtt.max_awaiting_rel=3 (CONNACK Receive Maximum 3) --set mqtt.max_packet_size=1KB.
 * Raw clients read every PUBLISH as bytes. Judged per MQTT 5.0 sections 3.1.2.11, 3.2.2.3, 3.3.4,
 * 4.9 and 4.13.
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
  closeReason,
  openRaw5,
  parseAck5,
  parsePublish5,
  parseSubAck5,
  Prop,
  prop,
  type Property,
  propOf,
  puback5Packet,
  type Publish5,
  publish5Packet,
  rc,
  Reason,
  subscribe5Packet,
} from "./_helpers/mqtt5.ts";
import {
  PacketType,
  PINGREQ,
  PINGRESP,
  pubrelPacket,
  type RawClient,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

const MAX_AWAITING_REL = 3;
const MAX_PACKET_SIZE = 1024;
const SETS = [`mqtt.max_awaiting_rel=${MAX_AWAITING_REL}`, "mqtt.max_packet_size=1KB"];

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `12 mqtt5 flow: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t12/${tag}`;
    await withBroker({ shards, sets: SETS }, async (b) => {
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c12${p}${seq++}`);

      /** A raw v5 subscriber on shard 0 with the given CONNECT properties. */
      async function rawSub(topic: string, qos: 0 | 1 | 2, props: Property[]): Promise<RawClient> {
        const { raw } = await openRaw5(b.port, { clientId: id(0, "rs"), props });
        await raw.send(subscribe5Packet(1, [{ topic, qos }]));
        assertEquals(parseSubAck5(await raw.expectPacket("SUBACK")).codes, [qos], "SUBACK");
        return raw;
      }

      await t.step(
        "CONNACK announces Receive Maximum and Maximum Packet Size from the config (MQTT 5.0 3.2.2.3)",
        async () => {
          const { raw, connack } = await openRaw5(b.port, { clientId: id(1, "ck") });
          await raw.close();
          assertEquals(
            propOf(connack.props, Prop.MAXIMUM_PACKET_SIZE),
            MAX_PACKET_SIZE,
            "Maximum Packet Size",
          );
          if (!b.isMosquitto) {
            assertEquals(
              propOf(connack.props, Prop.RECEIVE_MAXIMUM),
              MAX_AWAITING_REL,
              "Receive Maximum = mqtt.max_awaiting_rel",
            );
          }
        },
      );

      await t.step(
        "a client exceeding the broker's Receive Maximum with QoS 2 → DISCONNECT 0x93 [MQTT-3.3.4-7] (MQTT 5.0 4.9)",
        async () => {
          const { raw, connack } = await openRaw5(b.port, { clientId: id(1, "rx") });
          try {
            const max = Number(propOf(connack.props, Prop.RECEIVE_MAXIMUM) ?? 65535);
            assert(max <= 100, `Receive Maximum ${max} is too large to exceed in a test`);
            const topic = `${base}/rx`;
            let pid = 1;
            const sendQos2 = async () => {
              await raw.send(publish5Packet({ topic, payload: `${pid}`, qos: 2, packetId: pid }));
              return pid++;
            };
            // Fill the window; each gets a PUBREC but no PUBREL yet.
            const open: number[] = [];
            for (let i = 0; i < max; i++) {
              const p = await sendQos2();
              const rec = await raw.expectPacket(`PUBREC ${p}`);
              assertEquals([rec.type, parseAck5(rec).packetId], [PacketType.PUBREC, p], "PUBREC");
              assert(parseAck5(rec).reason < 0x80, `PUBREC ${p} reason < 0x80`);
              open.push(p);
            }
            // Completing one frees one slot: one more is accepted.
            const first = open.shift() ?? 0;
            await raw.send(pubrelPacket(first));
            const comp = await raw.expectPacket("PUBCOMP");
            assertEquals(
              [comp.type, parseAck5(comp).packetId],
              [PacketType.PUBCOMP, first],
              "PUBCOMP",
            );
            const again = await sendQos2();
            const rec = await raw.expectPacket(`PUBREC ${again}`);
            assertEquals(
              [rec.type, parseAck5(rec).packetId],
              [PacketType.PUBREC, again],
              "PUBREC after a slot was freed",
            );
            // One more than Receive Maximum unacknowledged: Receive Maximum exceeded.
            await sendQos2();
            const reason = await closeReason(raw, `QoS 2 PUBLISH number ${max + 1} without PUBREL`);
            assertEquals(rc(reason), rc(Reason.RECEIVE_MAXIMUM_EXCEEDED), "DISCONNECT reason");
          } finally {
            await raw.close();
          }
        },
      );

      await t.step(
        "the broker never has more than the client's Receive Maximum (2) QoS 1 PUBLISHes unacknowledged [MQTT-3.3.4-9] [MQTT-3.3.4-10]",
        async () => {
          const topic = `${base}/rm`;
          const sub = await rawSub(topic, 1, [prop(Prop.RECEIVE_MAXIMUM, 2)]);
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "rmp") });
          try {
            for (let i = 0; i < 6; i++) await publish(pub, topic, `${i}`, { qos: 1 });
            const got: Publish5[] = [];
            for (let i = 0; i < 2; i++) {
              got.push(parsePublish5(await sub.expectPacket(`PUBLISH ${i}`)));
            }
            await sub.expectSilence("no third PUBLISH while two are unacknowledged", 700);
            // Other packets are not held back by the full window.
            await sub.send(PINGREQ);
            await sub.expectBytes("PINGRESP while the window is full", PINGRESP, 2_000);
            for (let i = 0; i < 6; i++) {
              const m = got[i];
              assert(m && m.packetId !== null, `message ${i} with a packet id`);
              await sub.send(puback5Packet(m.packetId, 0));
              if (got.length < 6) {
                got.push(parsePublish5(await sub.expectPacket(`PUBLISH ${got.length}`)));
                if (got.length < 6) {
                  await sub.expectSilence("the window stays at 2", 200);
                }
              }
            }
            assertEquals(got.map((m) => m.text), ["0", "1", "2", "3", "4", "5"], "all, in order");
            await sub.expectSilence("each once", 300);
          } finally {
            await sub.close();
            await closeAll([pub]);
          }
        },
      );

      await t.step(
        "a packet over the broker's Maximum Packet Size (1 KB) → DISCONNECT 0x95; one under it passes (MQTT 5.0 3.2.2.3.6, 4.13)",
        async () => {
          const topic = `${base}/big`;
          const sub = await connect(b.url, { protocolVersion: 5, clientId: id(0, "bs") });
          const { raw } = await openRaw5(b.port, { clientId: id(1, "bp") });
          try {
            await subscribe(sub, topic, { qos: 1 });
            await raw.send(
              publish5Packet({ topic, payload: "y".repeat(900), qos: 1, packetId: 1 }),
            );
            const ack = await raw.expectPacket("PUBACK for a packet under the maximum");
            assertEquals([ack.type, parseAck5(ack).reason], [PacketType.PUBACK, 0], "PUBACK");
            assertEquals(
              (await collect(sub, 1, 5_000)).map((m) => m.payload.length),
              [900],
              "small",
            );
            await raw.send(
              publish5Packet({ topic, payload: "z".repeat(2000), qos: 1, packetId: 2 }),
            );
            const reason = await closeReason(raw, "PUBLISH of 2 KB");
            assertEquals(rc(reason), rc(Reason.PACKET_TOO_LARGE), "DISCONNECT reason");
            await expectNone(sub, 500);
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        },
      );
    });
  });
}
