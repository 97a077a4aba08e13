/**
 * Integration suite 07 (isolation): the packets of issue #10 that once broke a whole shard. A
 * 5.0 client's DISCONNECT with an invalid reason code (`e0 01 ff`, `e0 01 01`) and a client-sent
 * CONNACK (`20 02 fe 00`, 3.1.1 and 5.0) must end that connection alone with the right reason
 * code. After each, on the same shard: ten fresh clients (3.1.1 and 5.0) connect, a connected
 * pair keeps exchanging QoS 1 messages, and a client with a will that ends with a clean
 * DISCONNECT publishes no will [MQTT-3.14.4-3]. Client ids are chosen to sit on the shard the bad
 * packet came in on, with 1 and 4 shards.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connackOf,
  connect,
  disconnect,
  expectNone,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  connectPacket,
  disconnectReason,
  PacketType,
  RawClient,
  type RawPacket,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;

interface Sequence {
  name: string;
  version: 4 | 5;
  bytes: readonly number[];
  /** The MQTT 5 DISCONNECT reason the broker must send first (3.1.1: just the close). */
  reason: number;
}

const SEQUENCES: readonly Sequence[] = [
  // [MQTT-3.14.2-1] a DISCONNECT reason code must be one of table 3-10: 0xff and 0x01 are not.
  {
    name: "5.0 DISCONNECT with reason 0xff",
    version: 5,
    bytes: [0xe0, 0x01, 0xff],
    reason: MALFORMED,
  },
  {
    name: "5.0 DISCONNECT with reason 0x01",
    version: 5,
    bytes: [0xe0, 0x01, 0x01],
    reason: MALFORMED,
  },
  // A CONNACK is a server's packet: from a client it is a Protocol Error (section 4.13).
  {
    name: "3.1.1 client sends CONNACK 20 02 fe 00",
    version: 4,
    bytes: [0x20, 0x02, 0xfe, 0x00],
    reason: PROTOCOL_ERROR,
  },
  {
    name: "5.0 client sends CONNACK 20 02 fe 00",
    version: 5,
    bytes: [0x20, 0x02, 0xfe, 0x00],
    reason: PROTOCOL_ERROR,
  },
];

/** Sends the sequence after a successful CONNECT and checks the broker's answer and close. */
async function sendBad(port: number, seq: Sequence, clientId: string): Promise<void> {
  const raw = await RawClient.connect(port);
  try {
    await raw.send(connectPacket({ version: seq.version, clientId }));
    const ack = await raw.expectPacket("CONNACK");
    assertEquals([ack.type, ack.body[1]], [PacketType.CONNACK, 0], `${seq.name}: CONNACK`);
    await raw.send([...seq.bytes]);
    const seen = await raw.expectClose(seq.name, {
      allow: (p: RawPacket) => seq.version === 5 && p.type === PacketType.DISCONNECT,
    });
    if (seq.version === 5) {
      assertEquals(seen.map(disconnectReason), [seq.reason], `${seq.name}: DISCONNECT reason`);
    }
  } finally {
    await raw.close();
  }
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `07 isolation: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      // Everything below sits on shard 0: the shard the bad packets arrive on.
      const id = (name: string) => clientIdForShard(0, shards, `c07i${name}`);
      const topic = `t07i/${tag}/pair`;
      const willTopic = `t07i/${tag}/will`;
      const sub = await connect(broker.url, { protocolVersion: 5, clientId: id("sub") });
      const pub = await connect(broker.url, { protocolVersion: 4, clientId: id("pub") });
      const watcher = await connect(broker.url, { protocolVersion: 5, clientId: id("watch") });
      const extra: MqttClient[] = [];
      try {
        await subscribe(sub, topic, { qos: 1 });
        await subscribe(watcher, willTopic, { qos: 1 });
        let sent = 0;
        for (const [i, seq] of SEQUENCES.entries()) {
          await t.step(`${seq.name}: only that connection ends, the shard goes on`, async () => {
            await sendBad(broker.port, seq, id(`bad${i}`));
            // Ten fresh clients, both protocol levels, on the same shard.
            for (let k = 0; k < 10; k++) {
              const version = k % 2 === 0 ? 4 : 5;
              const c = await connect(broker.url, {
                protocolVersion: version,
                clientId: id(`fresh${i}x${k}`),
              });
              extra.push(c);
              assertEquals(connackOf(c).returnCode ?? connackOf(c).reasonCode ?? 0, 0, "CONNACK 0");
            }
            // The connected pair still exchanges QoS 1 messages, in order.
            const first = sent;
            for (let k = 0; k < 20; k++) await publish(pub, topic, String(sent++), { qos: 1 });
            const got = await collect(sub, 20, 5_000);
            assertEquals(
              got.map((m) => Number(m.payload)),
              Array.from({ length: 20 }, (_, k) => first + k),
              "the pair's messages after the bad packet",
            );
            // A clean DISCONNECT of a client with a will publishes no will [MQTT-3.14.4-3].
            for (const version of [4, 5] as const) {
              const c = await connect(broker.url, {
                protocolVersion: version,
                clientId: id(`will${i}v${version}`),
                will: { topic: willTopic, payload: "must not arrive", qos: 1, retain: false },
              });
              await disconnect(c);
            }
            await expectNone(watcher, 300);
            await closeAll(extra.splice(0));
          });
        }
        assert(!broker.logs().includes("Cannot parse protocolId"), "no CONNECT was misread");
      } finally {
        await closeAll([sub, pub, watcher, ...extra]);
      }
    });
  });
}
