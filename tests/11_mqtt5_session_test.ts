/**
 * Integration suite 11 (sessions and wills): MQTT 5.0 session expiry (short, "never", lowered
 * to 0 at DISCONNECT, the protocol error of raising it from 0), message expiry of queued
 * messages, will delay (published after the delay, cancelled by a reconnect, published when the
 * session ends first), will properties, and the will sent on DISCONNECT 0x04.
 *
 * The will-carrying and the expiring clients are raw (their closes are exactly what the test says);
 * subscribers sit on another shard. Judged per MQTT 5.0 sections 3.1.2.5, 3.1.2.11.2, 3.1.3.2,
 * 3.3.2.3.3 and 3.14.2.
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
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import {
  closeReason,
  disconnect5Packet,
  openRaw5,
  parsePublish5,
  parseSubAck5,
  Prop,
  prop,
  propOf,
  rc,
  Reason,
  subscribe5Packet,
  userProp,
  userPropsOf,
} from "./_helpers/mqtt5.ts";
import { hex } from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

/** Timer slack: a timer may fire up to this much early (tick granularity) ... */
const EARLY_MS = 200;
/** ... and the result must show up within this much after it was due. */
const LATE_MS = 3_000;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `11 mqtt5 session: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t11s/${tag}`;
    await withBroker({ shards }, async (b) => {
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c11${p}${seq++}`);
      /** An npm:mqtt v5 subscriber on shard 0. */
      const subscriber = async (filter: string): Promise<MqttClient> => {
        const c = await connect(b.url, { protocolVersion: 5, clientId: id(0, "sub") });
        await subscribe(c, filter, { qos: 1 });
        return c;
      };
      /** Connects with a delayed will, drops the connection and asserts when the will arrives. */
      const willArrivesAfter = async (
        suffix: string,
        w: { sessionExpiry: number; willDelay: number; payload: string; afterMs: number },
        label: string,
      ) => {
        const topic = `${base}/${suffix}`;
        const sub = await subscriber(topic);
        const { raw } = await openRaw5(b.port, {
          clientId: id(1, suffix),
          props: [prop(Prop.SESSION_EXPIRY_INTERVAL, w.sessionExpiry)],
          will: {
            topic,
            payload: w.payload,
            qos: 1,
            props: [prop(Prop.WILL_DELAY_INTERVAL, w.willDelay)],
          },
        });
        try {
          const t0 = Date.now();
          await raw.close();
          const got = await collect(sub, 1, w.afterMs + LATE_MS);
          const elapsed = Date.now() - t0;
          assertEquals(got.map((m) => m.payload), [w.payload], label);
          assert(elapsed >= w.afterMs - EARLY_MS, `will after ${elapsed} ms, before ${label}`);
        } finally {
          await raw.close();
          await closeAll([sub]);
        }
      };
      /** Connects with Clean Start 1 and leaves, so a kept session is discarded. */
      const discard = async (clientId: string) => {
        await disconnect(await connect(b.url, { protocolVersion: 5, clientId, clean: true }));
      };

      await t.step(
        "session expiry 1 s ends the session; 0xFFFFFFFF and 3600 keep it [MQTT-3.1.2-23]; queued messages expire [MQTT-3.3.2-5] [MQTT-3.3.2-6]",
        async () => {
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "ep") });
          const neverId = id(2, "ef");
          const sessions: [string, number][] = [
            [id(0, "e1"), 1],
            [neverId, 0xffffffff],
            [id(3, "eh"), 3600],
          ];
          const kept: string[] = [];
          try {
            for (const [clientId, expiry] of sessions) {
              const c = await connect(b.url, {
                protocolVersion: 5,
                clientId,
                clean: true,
                properties: { sessionExpiryInterval: expiry },
              });
              await subscribe(c, `${base}/se/${clientId}`, { qos: 1 });
              await disconnect(c);
              if (expiry > 1) kept.push(clientId);
            }
            // Queued for the "never" session while it is away: one expiring, one lasting, one
            // without expiry.
            const q = `${base}/se/${neverId}`;
            await publish(pub, q, "short", { qos: 1, properties: { messageExpiryInterval: 1 } });
            await publish(pub, q, "long", { qos: 1, properties: { messageExpiryInterval: 60 } });
            await publish(pub, q, "none", { qos: 1 });
            await sleep(2_200);
            for (const [clientId] of sessions) {
              await publish(pub, `${base}/se/${clientId}`, `after-${clientId}`, { qos: 1 });
            }
            for (const [clientId, expiry] of sessions) {
              const c = await connect(b.url, {
                protocolVersion: 5,
                clientId,
                clean: false,
                properties: { sessionExpiryInterval: 300 },
              });
              try {
                const present = connackOf(c).sessionPresent;
                if (expiry === 1) {
                  assertEquals(present, false, "expiry 1: session gone after 2 s");
                  await expectNone(c, 500);
                  continue;
                }
                assertEquals(present, true, `expiry ${expiry}: session kept`);
                const n = clientId === neverId ? 3 : 1;
                const got = await collect(c, n, 5_000);
                await expectNone(c, 300);
                const want = clientId === neverId
                  ? ["long", "none", `after-${clientId}`]
                  : [`after-${clientId}`];
                assertEquals(got.map((m) => m.payload), want, `messages kept for ${clientId}`);
                if (clientId === neverId) {
                  const long = got[0]?.packet.properties?.messageExpiryInterval ?? -1;
                  assert(long > 0 && long <= 58, `remaining expiry ${long} s in (0, 58] after 2 s`);
                  assertEquals(
                    got[1]?.packet.properties?.messageExpiryInterval,
                    undefined,
                    "no expiry added to a message without one",
                  );
                }
              } finally {
                await disconnect(c);
              }
            }
          } finally {
            await closeAll([pub]);
            for (const clientId of kept) await discard(clientId);
          }
        },
      );

      await t.step(
        "session expiry lowered to 0 in DISCONNECT ends the session at once (MQTT 5.0 3.14.2.2.2)",
        async () => {
          const clientId = id(1, "dz");
          const { raw } = await openRaw5(b.port, {
            clientId,
            props: [prop(Prop.SESSION_EXPIRY_INTERVAL, 300)],
          });
          await raw.send(subscribe5Packet(1, [{ topic: `${base}/dz`, qos: 1 }]));
          assertEquals(parseSubAck5(await raw.expectPacket("SUBACK")).codes, [1], "SUBACK");
          await raw.send(disconnect5Packet(0, [prop(Prop.SESSION_EXPIRY_INTERVAL, 0)]));
          await raw.expectClose("after DISCONNECT").catch(() => {});
          await raw.close();
          const c = await connect(b.url, {
            protocolVersion: 5,
            clientId,
            clean: false,
            properties: { sessionExpiryInterval: 300 },
          });
          try {
            assertEquals(connackOf(c).sessionPresent, false, "session ended by DISCONNECT");
          } finally {
            await disconnect(c);
            await discard(clientId);
          }
        },
      );

      await t.step(
        "session expiry 0 in CONNECT, non-zero in DISCONNECT → DISCONNECT 0x82, and the will is published (MQTT 5.0 3.14.2.2.2)",
        async () => {
          const topic = `${base}/dx/will`;
          const sub = await subscriber(topic);
          const { raw } = await openRaw5(b.port, {
            clientId: id(1, "dx"),
            will: { topic, payload: "not a valid DISCONNECT", qos: 1 },
          });
          try {
            await raw.send(disconnect5Packet(0, [prop(Prop.SESSION_EXPIRY_INTERVAL, 10)]));
            const reason = await closeReason(raw, "DISCONNECT raising session expiry from 0");
            assertEquals(rc(reason), rc(Reason.PROTOCOL_ERROR), "server DISCONNECT reason");
            const got = await collect(sub, 1, 5_000);
            assertEquals(got.map((m) => m.payload), ["not a valid DISCONNECT"], "will");
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        },
      );

      await t.step(
        "will properties reach the subscriber, user properties in order [MQTT-3.1.3-10]",
        async () => {
          const topic = `${base}/wp`;
          const { raw: sub } = await openRaw5(b.port, { clientId: id(0, "wps") });
          await sub.send(subscribe5Packet(1, [{ topic, qos: 1 }]));
          assertEquals(parseSubAck5(await sub.expectPacket("SUBACK")).codes, [1], "SUBACK");
          const corr = Uint8Array.from([9, 8, 0, 255]);
          const users: [string, string][] = [["k1", "v1"], ["k2", "v2"], ["k1", "v3"]];
          const { raw } = await openRaw5(b.port, {
            clientId: id(1, "wpw"),
            will: {
              topic,
              payload: "{}",
              qos: 1,
              props: [
                prop(Prop.PAYLOAD_FORMAT_INDICATOR, 1),
                prop(Prop.CONTENT_TYPE, "application/json"),
                prop(Prop.RESPONSE_TOPIC, `${base}/wp/reply`),
                prop(Prop.CORRELATION_DATA, corr),
                prop(Prop.MESSAGE_EXPIRY_INTERVAL, 30),
                ...users.map(([k, v]) => userProp(k, v)),
              ],
            },
          });
          try {
            await raw.close();
            const m = parsePublish5(await sub.expectPacket("will PUBLISH"));
            assertEquals([m.topic, m.text, m.qos], [topic, "{}", 1], "will message");
            assertEquals(userPropsOf(m.props), users, "user properties in order");
            assertEquals(propOf(m.props, Prop.PAYLOAD_FORMAT_INDICATOR), 1, "payload format");
            assertEquals(propOf(m.props, Prop.CONTENT_TYPE), "application/json", "content type");
            assertEquals(propOf(m.props, Prop.RESPONSE_TOPIC), `${base}/wp/reply`, "resp topic");
            assertEquals(
              hex(propOf(m.props, Prop.CORRELATION_DATA) as Uint8Array),
              hex(corr),
              "correlation data",
            );
            const mei = Number(propOf(m.props, Prop.MESSAGE_EXPIRY_INTERVAL) ?? -1);
            assert(mei > 0 && mei <= 30, `message expiry ${mei} in (0, 30]`);
          } finally {
            await raw.close();
            await sub.close();
          }
        },
      );

      await t.step(
        "will delay 2 s: the will arrives ≥ 2 s after an abnormal close [MQTT-3.1.2-8]",
        () =>
          willArrivesAfter(
            "wd",
            { sessionExpiry: 10, willDelay: 2, payload: "late", afterMs: 2_000 },
            "its 2 s delay",
          ),
      );

      await t.step(
        "a reconnect within the will delay cancels the will [MQTT-3.1.3-9]",
        async () => {
          const topic = `${base}/wc`;
          const sub = await subscriber(topic);
          const clientId = id(1, "wc");
          const { raw } = await openRaw5(b.port, {
            clientId,
            props: [prop(Prop.SESSION_EXPIRY_INTERVAL, 10)],
            will: {
              topic,
              payload: "cancelled",
              qos: 1,
              props: [prop(Prop.WILL_DELAY_INTERVAL, 2)],
            },
          });
          let back: MqttClient | null = null;
          try {
            await raw.close();
            await sleep(500);
            back = await connect(b.url, {
              protocolVersion: 5,
              clientId,
              clean: false,
              properties: { sessionExpiryInterval: 10 },
            });
            assertEquals(connackOf(back).sessionPresent, true, "session resumed");
            await expectNone(sub, 2_000 + 500);
          } finally {
            await raw.close();
            await closeAll([sub, back]);
            await discard(clientId);
          }
        },
      );

      await t.step(
        "will delay 10 s with session expiry 1 s: the will is published when the session ends [MQTT-3.1.2-8]",
        () =>
          willArrivesAfter(
            "we",
            { sessionExpiry: 1, willDelay: 10, payload: "ended", afterMs: 1_000 },
            "the session end",
          ),
      );

      await t.step(
        "DISCONNECT 0x04 (Disconnect with Will Message) publishes the will (MQTT 5.0 3.14.2.1)",
        async () => {
          const topic = `${base}/w4`;
          const sub = await subscriber(topic);
          const { raw } = await openRaw5(b.port, {
            clientId: id(1, "w4"),
            will: { topic, payload: "asked for", qos: 1 },
          });
          try {
            await raw.send(disconnect5Packet(Reason.DISCONNECT_WITH_WILL));
            await raw.expectClose("after DISCONNECT 0x04").catch(() => {});
            const got = await collect(sub, 1, 5_000);
            assertEquals(got.map((m) => m.payload), ["asked for"], "will");
          } finally {
            await raw.close();
            await closeAll([sub]);
          }
        },
      );
    });
  });
}
