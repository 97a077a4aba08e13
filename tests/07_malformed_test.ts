/**
 * Integration suite 07: malformed and hostile input. While a healthy publisher/subscriber pair
 * (on different shards) keeps exchanging QoS 1 messages, other raw connections send garbage,
 * truncated packets, bad remaining lengths, oversized packets, invalid UTF-8, wildcard topic
 * names, packets before CONNECT, and MQTT 5 properties that are a Protocol Error. Each bad
 * connection must be closed, alone; the healthy pair must receive everything in order; the broker
 * must log each bad connection once.
 *
 * The broker runs with mqtt.max_packet_size=1KB so the oversize case needs only 2 KB.
 * Judged per MQTT 3.1.1 sections 1.5.3, 2.2.3, 3.1.0, 3.3 and 4.8 and MQTT 5.0 sections 1.5.4,
 * 2.1.4, 3.1.0, 3.3 and 4.13.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import type { BrokerHandle } from "./_helpers/broker.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  expectNone,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import {
  connectPacket,
  disconnectReason,
  PacketType,
  publishPacket,
  RawClient,
  type RawPacket,
} from "./_helpers/raw_client.ts";
import { connectPair, SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";
import { connect5Packet, Prop, prop, type Property, publish5Packet } from "./_helpers/mqtt5.ts";

/** Bounds of the healthy pair's background traffic. */
const PUMP_INTERVAL_MS = 10;
const PUMP_MAX_MESSAGES = 5_000;

/** One kind of bad input. */
interface BadCase {
  name: string;
  /** Whether the broker must close the connection (false: the client closes it itself). */
  brokerCloses: boolean;
  /** Run at this protocol level only (MQTT 5 properties). */
  only?: 5;
  /** MQTT 5 DISCONNECT (or refusing CONNACK) reason codes acceptable before the close. */
  reasons?: readonly number[];
  /** Sends the bad input on a fresh raw connection. */
  run(raw: RawClient, v: 4 | 5, clientId: string, badTopic: string): Promise<void>;
}

/** Connects on raw and expects a CONNACK accepting it. */
async function handshake(raw: RawClient, v: 4 | 5, clientId: string): Promise<void> {
  await raw.send(connectPacket({ version: v, clientId }));
  const p = await raw.expectPacket("CONNACK");
  assertEquals([p.type, p.body[1]], [PacketType.CONNACK, 0], `CONNACK for ${clientId}`);
}

const enc = new TextEncoder();
function topicBytes(prefix: string, tail: readonly number[]): Uint8Array {
  const head = enc.encode(prefix);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const TOPIC_NAME_INVALID = 0x90;
const PACKET_TOO_LARGE = 0x95;

/** An MQTT 5 QoS 1 PUBLISH to the bad topic whose properties are a Protocol Error. */
function publishWith(name: string, props: Property[]): BadCase {
  return {
    name,
    only: 5,
    brokerCloses: true,
    reasons: [PROTOCOL_ERROR],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      await raw.send(publish5Packet({ topic: `${badTopic}/p`, qos: 1, payload: "p", props }));
    },
  };
}

const CASES: readonly BadCase[] = [
  {
    name: "garbage bytes instead of CONNECT",
    brokerCloses: true,
    async run(raw) {
      await raw.send(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    },
  },
  {
    name: "a reserved packet type 0 first",
    brokerCloses: true,
    async run(raw) {
      await raw.send([0x00, 0x02, 0xde, 0xad, 0xbe, 0xef]);
    },
  },
  {
    name: "PUBLISH before CONNECT [MQTT-3.1.0-1]",
    brokerCloses: true,
    async run(raw, v, _id, badTopic) {
      await raw.send(publishPacket({ version: v, topic: badTopic, payload: "early", qos: 1 }));
    },
  },
  {
    name: "a truncated CONNECT, then the client closes",
    brokerCloses: false,
    async run(raw, v, clientId) {
      await raw.send(connectPacket({ version: v, clientId }).subarray(0, 9));
    },
  },
  {
    name: "a truncated PUBLISH after CONNECT, then the client closes",
    brokerCloses: false,
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      const p = publishPacket({ version: v, topic: badTopic, payload: "x".repeat(100), qos: 1 });
      await raw.send(p.subarray(0, 40));
    },
  },
  {
    name: "a 5-byte remaining length (FF FF FF FF 7F)",
    brokerCloses: true,
    reasons: [MALFORMED],
    async run(raw, v, clientId) {
      await handshake(raw, v, clientId);
      await raw.send([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61]);
    },
  },
  {
    name: "a PUBLISH larger than max_packet_size (1 KB)",
    brokerCloses: true,
    reasons: [PACKET_TOO_LARGE],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      // The broker may close as soon as it reads the remaining length: a failed write is fine.
      await raw.send(
        publishPacket({ version: v, topic: badTopic, payload: "z".repeat(2048), qos: 1 }),
      );
    },
  },
  {
    name: "invalid UTF-8 in a topic name (C3 28) [MQTT-1.5.3-1]",
    brokerCloses: true,
    reasons: [MALFORMED, TOPIC_NAME_INVALID],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      const topic = topicBytes(`${badTopic}/`, [0xc3, 0x28]);
      await raw.send(publishPacket({ version: v, topic, payload: "utf8", qos: 1 }));
    },
  },
  {
    name: "a UTF-16 surrogate (ED A0 80) in a topic name [MQTT-1.5.3-1]",
    brokerCloses: true,
    reasons: [MALFORMED, TOPIC_NAME_INVALID],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      const topic = topicBytes(`${badTopic}/`, [0xed, 0xa0, 0x80]);
      await raw.send(publishPacket({ version: v, topic, payload: "surrogate", qos: 1 }));
    },
  },
  {
    name: "U+0000 in a topic name [MQTT-4.7.3-2]",
    brokerCloses: true,
    reasons: [MALFORMED, TOPIC_NAME_INVALID],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      const topic = topicBytes(`${badTopic}/`, [0x61, 0x00, 0x62]);
      await raw.send(publishPacket({ version: v, topic, payload: "nul", qos: 1 }));
    },
  },
  {
    name: "a wildcard in a PUBLISH topic [MQTT-3.3.2-2]",
    brokerCloses: true,
    reasons: [MALFORMED, PROTOCOL_ERROR, TOPIC_NAME_INVALID],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      await raw.send(
        publishPacket({ version: v, topic: `${badTopic}/+`, payload: "wild", qos: 1 }),
      );
    },
  },
  {
    name: "PUBLISH with QoS 3 [MQTT-3.3.1-4]",
    brokerCloses: true,
    reasons: [MALFORMED],
    async run(raw, v, clientId, badTopic) {
      await handshake(raw, v, clientId);
      const p = publishPacket({ version: v, topic: badTopic, payload: "q3", qos: 2, packetId: 9 });
      p[0] = (p[0] ?? 0) | 0x06;
      await raw.send(p);
    },
  },
  {
    name: "CONNECT with Authentication Data but no Authentication Method (MQTT 5.0 3.1.2.11.10)",
    only: 5,
    brokerCloses: true,
    reasons: [PROTOCOL_ERROR],
    async run(raw, _v, clientId) {
      const props = [prop(Prop.AUTHENTICATION_DATA, Uint8Array.of(1))];
      await raw.send(connect5Packet({ clientId, props }));
    },
  },
  publishWith("a Subscription Identifier in a client's PUBLISH [MQTT-3.3.4-6]", [
    prop(Prop.SUBSCRIPTION_IDENTIFIER, 7),
  ]),
  publishWith("a wildcard in a PUBLISH's Response Topic [MQTT-3.3.2-14]", [
    prop(Prop.RESPONSE_TOPIC, "reply/#"),
  ]),
];

/**
 * Warning and error lines of the broker's log (text format: `<time> WARNING <category>: ...`)
 * that name the peer "ip:port" exactly. Lifecycle lines at info level (accepted, connected) do
 * not count: issue #2 asks that the bad input itself be logged once, with the peer address.
 */
function problemLinesNaming(logs: string, peer: string): string[] {
  const re = new RegExp(`${peer.replaceAll(".", "\\.")}(?!\\d)`);
  return logs.split("\n").filter((l) => re.test(l) && /\s(WARNING|ERROR|FATAL)\s/.test(l));
}

/** Waits (bounded) until the broker logged a problem naming peer; returns those lines. */
async function loggedProblems(broker: BrokerHandle, peer: string): Promise<string[]> {
  const deadline = Date.now() + 3_000;
  while (problemLinesNaming(broker.logs(), peer).length === 0 && Date.now() < deadline) {
    await sleep(50);
  }
  await sleep(200); // let a second line for the same connection, if any, arrive too
  return problemLinesNaming(broker.logs(), peer);
}

/** Background QoS 1 traffic of the healthy pair: one message every PUMP_INTERVAL_MS. */
function startPump(pub: MqttClient, topic: string): { stop(): Promise<number> } {
  let pumping = true;
  let sent = 0;
  const done = (async () => {
    while (pumping && sent < PUMP_MAX_MESSAGES) {
      await publish(pub, topic, String(sent), { qos: 1 });
      sent++;
      await sleep(PUMP_INTERVAL_MS);
    }
  })();
  return {
    async stop() {
      pumping = false;
      await done;
      return sent;
    },
  };
}

/** Runs every bad case on its own raw connection; returns a description of each failure. */
async function runBadCases(
  broker: BrokerHandle,
  v: 4 | 5,
  shards: number,
  badTopic: string,
): Promise<string[]> {
  const failures: string[] = [];
  for (const [i, c] of CASES.entries()) {
    if (c.only !== undefined && c.only !== v) continue;
    const raw = await RawClient.connect(broker.port);
    const peer = raw.peer;
    try {
      await c.run(raw, v, clientIdForShard(i, shards, `c07b${v}x${i}`), badTopic);
      if (!c.brokerCloses) continue;
      // MQTT 5.0 4.13: a refused CONNECT may be answered with a CONNACK carrying the reason.
      const refusal = (p: RawPacket) => p.type === PacketType.CONNACK && (p.body[1] ?? 0) >= 0x80;
      const seen = await raw.expectClose(c.name, {
        allow: (p: RawPacket) => v === 5 && (p.type === PacketType.DISCONNECT || refusal(p)),
      });
      for (const p of seen) {
        const rc = refusal(p) ? p.body[1] ?? 0 : disconnectReason(p);
        const ok = c.reasons?.includes(rc) ?? rc >= 0x80;
        assert(ok, `${c.name}: DISCONNECT reason 0x${rc.toString(16)}`);
      }
      // Logged once, with the peer address (issue #2, "Bad input"). Mosquitto's log has no
      // levels and names the peer only when it connects: not checked there.
      if (!broker.isMosquitto) {
        const lines = await loggedProblems(broker, peer);
        if (lines.length !== 1) {
          failures.push(
            `${c.name}: ${lines.length} warning/error lines name ${peer}:\n${lines.join("\n")}`,
          );
        }
      }
    } catch (e) {
      failures.push(`${c.name}: ${e instanceof Error ? e.message : e}`);
    } finally {
      await raw.close();
    }
  }
  return failures;
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `07 malformed: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards, sets: ["mqtt.max_packet_size=1KB"] }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t07/${tag}/v${v}`;
        const badTopic = `${base}/bad`;

        await t.step(
          `v${v}: bad connections are closed alone while a healthy pair keeps going`,
          async () => {
            const { sub, pub } = await connectPair(broker.url, v, shards, `c07h${v}`);
            let watcher: MqttClient | null = null;
            try {
              watcher = await connect(broker.url, {
                protocolVersion: v,
                clientId: clientIdForShard(2, shards, `c07wt${v}`),
              });
              await subscribe(sub, `${base}/healthy`, { qos: 1 });
              // Nothing a bad connection sent may be delivered.
              await subscribe(watcher, `${badTopic}/#`, { qos: 1 });
              const pump = startPump(pub, `${base}/healthy`);
              let failures: string[];
              let sent: number;
              try {
                failures = await runBadCases(broker, v, shards, badTopic);
                await sleep(300);
              } finally {
                sent = await pump.stop();
              }
              assertEquals(failures, [], "bad inputs");
              assert(sent > 0, "the healthy publisher sent messages");
              const got = await collect(sub, sent, 10_000);
              assertEquals(
                got.map((m) => Number(m.payload)),
                Array.from({ length: sent }, (_, i) => i),
                "the healthy subscriber received every message, in order",
              );
              await expectNone(sub, 300);
              await expectNone(watcher, 300);
            } finally {
              await closeAll([sub, pub, watcher]);
            }
          },
        );
      }
    });
  });
}
