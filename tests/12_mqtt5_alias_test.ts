/**
 * Integration suite 12 (topic aliases): MQTT 5.0 topic aliases in both directions across shards —
 * client→server (set, reused with an empty topic, remapped; alias 0, alias over the broker's
 * Topic Alias Maximum and an unmapped alias refused) and server→client (repeated topics sent as
 * an empty topic with an alias, within the client's maximum, never to a client that allowed
 * none, never carried over to a new connection).
 *
 * Broker: --set mqtt.max_topic_alias=10 (CONNACK Topic Alias Maximum 10; alias 11 is invalid).
 * Raw clients read every PUBLISH as bytes. Judged per MQTT 5.0 sections 3.1.2.11.5, 3.2.2.3.8,
 * 3.3.2.3.4 and 4.13.
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
  propsOf,
  puback5Packet,
  type Publish5,
  publish5Packet,
  rc,
  Reason,
  subscribe5Packet,
} from "./_helpers/mqtt5.ts";
import { PacketType, type RawClient } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

const QUIET_MS = 500;
const MAX_TOPIC_ALIAS = 10;

/**
 * Resolves server→client topic aliases as a client must: a PUBLISH with a topic and an alias
 * (re)maps the alias; one with an empty topic uses the mapping. Fails on an unmapped alias, an
 * alias outside 1..max, or an alias sent to a client that allowed none [MQTT-3.1.2-26]
 * [MQTT-3.1.2-27] [MQTT-3.3.2-11].
 */
class AliasReader {
  #map = new Map<number, string>();
  constructor(readonly max: number) {}
  resolve(m: Publish5): string {
    const aliases = propsOf(m.props, Prop.TOPIC_ALIAS).map(Number);
    assert(aliases.length <= 1, `at most one Topic Alias in a PUBLISH, got ${aliases}`);
    const alias = aliases[0];
    if (alias === undefined) {
      assert(m.topic !== "", "an empty topic without a Topic Alias");
      return m.topic;
    }
    assert(this.max > 0, `Topic Alias ${alias} sent to a client without Topic Alias Maximum`);
    assert(alias >= 1 && alias <= this.max, `Topic Alias ${alias} outside 1..${this.max}`);
    if (m.topic !== "") {
      this.#map.set(alias, m.topic);
      return m.topic;
    }
    const t = this.#map.get(alias);
    assert(t !== undefined, `Topic Alias ${alias} used with an empty topic before it was set`);
    return t;
  }
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `12 mqtt5 alias: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t12a/${tag}`;
    await withBroker({ shards, sets: [`mqtt.max_topic_alias=${MAX_TOPIC_ALIAS}`] }, async (b) => {
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c12a${p}${seq++}`);

      /** A raw v5 subscriber on shard 0 with the given CONNECT properties. */
      async function rawSub(topic: string, qos: 0 | 1 | 2, props: Property[]): Promise<RawClient> {
        const { raw } = await openRaw5(b.port, { clientId: id(0, "rs"), props });
        await raw.send(subscribe5Packet(1, [{ topic, qos }]));
        assertEquals(parseSubAck5(await raw.expectPacket("SUBACK")).codes, [qos], "SUBACK");
        return raw;
      }

      await t.step(
        "client→server topic alias: set, reused with an empty topic, remapped [MQTT-3.3.2-12]",
        async () => {
          const sub = await connect(b.url, { protocolVersion: 5, clientId: id(0, "as") });
          const { raw, connack } = await openRaw5(b.port, { clientId: id(1, "ap") });
          try {
            assertEquals(
              propOf(connack.props, Prop.TOPIC_ALIAS_MAXIMUM),
              MAX_TOPIC_ALIAS,
              "CONNACK Topic Alias Maximum",
            );
            await subscribe(sub, `${base}/alias/#`, { qos: 1 });
            const sends: [string, number, string][] = [
              [`${base}/alias/one`, 1, "a"],
              ["", 1, "b"],
              [`${base}/alias/two`, 1, "c"],
              ["", 1, "d"],
              [`${base}/alias/ten`, MAX_TOPIC_ALIAS, "e"],
              ["", MAX_TOPIC_ALIAS, "f"],
            ];
            let pid = 1;
            for (const [topic, alias, payload] of sends) {
              await raw.send(publish5Packet({
                topic,
                payload,
                qos: 1,
                packetId: pid,
                props: [prop(Prop.TOPIC_ALIAS, alias)],
              }));
              const ack = await raw.expectPacket(`PUBACK ${pid}`);
              assertEquals([ack.type, parseAck5(ack).reason], [PacketType.PUBACK, 0], "PUBACK");
              pid++;
            }
            const got = await collect(sub, sends.length, 5_000);
            assertEquals(
              got.map((m) => [m.topic, m.payload]),
              [
                [`${base}/alias/one`, "a"],
                [`${base}/alias/one`, "b"],
                [`${base}/alias/two`, "c"],
                [`${base}/alias/two`, "d"],
                [`${base}/alias/ten`, "e"],
                [`${base}/alias/ten`, "f"],
              ],
              "topics resolved from aliases",
            );
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        },
      );

      const badAliases: [string, string, number, number][] = [
        ["alias 0 → 0x94 [MQTT-3.3.2-8]", `${base}/alias/bad`, 0, Reason.TOPIC_ALIAS_INVALID],
        [
          `alias ${
            MAX_TOPIC_ALIAS + 1
          } > Topic Alias Maximum → 0x94 [MQTT-3.3.2-9] [MQTT-3.2.2-17]`,
          `${base}/alias/bad`,
          MAX_TOPIC_ALIAS + 1,
          Reason.TOPIC_ALIAS_INVALID,
        ],
        [
          "empty topic with an alias never set on this connection → 0x82 [MQTT-3.3.2-7]",
          "",
          1,
          Reason.PROTOCOL_ERROR,
        ],
      ];
      for (const [name, topic, alias, reason] of badAliases) {
        await t.step(`client→server topic alias: ${name}`, async () => {
          const sub = await connect(b.url, { protocolVersion: 5, clientId: id(0, "bs") });
          const { raw } = await openRaw5(b.port, { clientId: id(1, "bp") });
          try {
            await subscribe(sub, `${base}/alias/#`, { qos: 1 });
            await raw.send(publish5Packet({
              topic,
              payload: "bad",
              qos: 1,
              props: [prop(Prop.TOPIC_ALIAS, alias)],
            }));
            assertEquals(rc(await closeReason(raw, name)), rc(reason), "DISCONNECT reason");
            await expectNone(sub, QUIET_MS);
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        });
      }

      await t.step(
        "server→client topic aliases: a repeated topic comes as an empty topic with its alias (MQTT 5.0 3.3.2.3.4) [MQTT-3.3.2-11]",
        async () => {
          const topic = `${base}/ta/x`;
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "tap") });
          let sub = await rawSub(`${base}/ta/#`, 0, [prop(Prop.TOPIC_ALIAS_MAXIMUM, 5)]);
          try {
            const reader = new AliasReader(5);
            const sends = [topic, topic, `${base}/ta/y`, topic, `${base}/ta/y`];
            for (const [i, tp] of sends.entries()) await publish(pub, tp, `${i}`, { qos: 0 });
            const got: Publish5[] = [];
            for (let i = 0; i < sends.length; i++) {
              got.push(parsePublish5(await sub.expectPacket(`PUBLISH ${i}`)));
            }
            assertEquals(got.map((m) => reader.resolve(m)), sends, "topics after alias resolution");
            assertEquals(got.map((m) => m.text), ["0", "1", "2", "3", "4"], "payloads");
            const [m0, m1] = got;
            const alias = propOf(m0?.props ?? [], Prop.TOPIC_ALIAS);
            assertEquals([m0?.topic, typeof alias], [topic, "number"], "first: topic and alias");
            assertEquals(
              [m1?.topic, propOf(m1?.props ?? [], Prop.TOPIC_ALIAS)],
              ["", alias],
              "second: empty topic, same alias",
            );
            // A new connection starts without aliases [MQTT-3.3.2-7].
            await sub.close();
            sub = await rawSub(`${base}/ta/#`, 0, [prop(Prop.TOPIC_ALIAS_MAXIMUM, 5)]);
            await publish(pub, topic, "fresh", { qos: 0 });
            const fresh = parsePublish5(await sub.expectPacket("PUBLISH on a new connection"));
            assertEquals([fresh.topic, fresh.text], [topic, "fresh"], "the topic is sent again");
          } finally {
            await sub.close();
            await closeAll([pub]);
          }
        },
      );

      await t.step(
        "server→client topic aliases stay within the client's maximum (1) and resolve correctly [MQTT-3.1.2-26]",
        async () => {
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "tmp") });
          const sub = await rawSub(`${base}/tm/#`, 1, [prop(Prop.TOPIC_ALIAS_MAXIMUM, 1)]);
          try {
            const reader = new AliasReader(1);
            const sends = ["a", "a", "b", "b", "a", "c", "c"].map((x) => `${base}/tm/${x}`);
            for (const [i, tp] of sends.entries()) await publish(pub, tp, `${i}`, { qos: 1 });
            const topics: string[] = [];
            for (let i = 0; i < sends.length; i++) {
              const m = parsePublish5(await sub.expectPacket(`PUBLISH ${i}`));
              topics.push(reader.resolve(m));
              if (m.packetId !== null) await sub.send(puback5Packet(m.packetId, 0));
            }
            assertEquals(topics, sends, "topics after alias resolution");
          } finally {
            await sub.close();
            await closeAll([pub]);
          }
        },
      );

      await t.step(
        "no topic alias to a client that sent no Topic Alias Maximum [MQTT-3.1.2-27]",
        async () => {
          const topic = `${base}/tn`;
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "tnp") });
          const sub = await rawSub(topic, 0, []);
          try {
            for (let i = 0; i < 3; i++) await publish(pub, topic, `${i}`, { qos: 0 });
            for (let i = 0; i < 3; i++) {
              const m = parsePublish5(await sub.expectPacket(`PUBLISH ${i}`));
              assertEquals(
                [m.topic, propsOf(m.props, Prop.TOPIC_ALIAS)],
                [topic, []],
                `message ${i}`,
              );
            }
          } finally {
            await sub.close();
            await closeAll([pub]);
          }
        },
      );
    });
  });
}
