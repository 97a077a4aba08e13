/**
 * Integration suite 14 (events): $SYS metrics/* growing with the traffic, client
 * connected/disconnected events with EMQX's JSON payloads, and `$SYS` never writable by clients.
 * Topics, stats and wildcards: 14_sys_test.ts.
 *
 * Broker: --shards 4 --set sys_topics.sys_msg_interval=1s --set node.name=n1@127.0.0.1.
 * Judged per MQTT 5.0 section 4.7.2 [MQTT-4.7.2-1] and EMQX's $SYS layout and event payloads.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  closeAll,
  connect,
  destroy,
  disconnect,
  drain,
  publish,
  type Received,
  runTag,
  sleep,
  subscribe,
  takeMatching,
} from "./_helpers/clients.ts";
import { openRaw5, parseAck5, publish5Packet, rc, Reason } from "./_helpers/mqtt5.ts";
import {
  DISCONNECT,
  PacketType,
  PINGREQ,
  PINGRESP,
  publishPacket,
  RawClient,
} from "./_helpers/raw_client.ts";
import { brokerKind } from "./_helpers/broker.ts";
import { METRICS } from "./_helpers/sys.ts";
import { SYS, withSysWatcher } from "./_helpers/sys.ts";

/** EMQX's $SYS layout is not Mosquitto's: those steps run against Culex only. */
const EMQX_ONLY = brokerKind() === "mosquitto";

Deno.test({ name: "14 sys events: shards=4" }, async (t) => {
  const tag = runTag();
  const base = `t14/${tag}`;
  await withSysWatcher("c14", async ({ broker: b, id, watcher, sys }) => {
    await t.step({
      name: "metrics grow with the traffic: bytes, packets by type, messages by QoS, dropped",
      ignore: EMQX_ONLY,
      fn: async () => {
        await sys.reset();
        const names = METRICS;
        const m0 = await sys.waitFor(names, () => true, "baseline");
        const sub = await connect(b.url, { protocolVersion: 5, clientId: id(2, "ms") });
        const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "mp") });
        const { raw } = await openRaw5(b.port, { clientId: id(3, "mr") });
        try {
          await subscribe(sub, `${base}/m`, { qos: 2 });
          const payload = "p".repeat(100);
          for (let i = 0; i < 10; i++) await publish(pub, `${base}/m`, payload, { qos: 1 });
          for (let i = 0; i < 3; i++) await publish(pub, `${base}/m`, payload, { qos: 2 });
          for (let i = 0; i < 5; i++) await publish(pub, `${base}/nobody/${i}`, "x", { qos: 0 });
          await raw.send(PINGREQ);
          await raw.expectBytes("PINGRESP", PINGRESP);
          await raw.send(DISCONNECT);
          await raw.expectClose("after DISCONNECT").catch(() => {});
          const inc: Record<string, number> = {
            "metrics/bytes/received": 1300,
            "metrics/bytes/sent": 1300,
            "metrics/packets/received": 20,
            "metrics/packets/sent": 20,
            "metrics/packets/connect/received": 3,
            "metrics/packets/connack/sent": 3,
            "metrics/packets/publish/received": 18,
            "metrics/packets/publish/sent": 13,
            "metrics/packets/puback/sent": 10,
            "metrics/packets/puback/received": 10,
            "metrics/packets/pubrec/sent": 3,
            "metrics/packets/pubrel/received": 3,
            "metrics/packets/pubcomp/sent": 3,
            "metrics/packets/pubrec/received": 3,
            "metrics/packets/pubrel/sent": 3,
            "metrics/packets/pubcomp/received": 3,
            "metrics/packets/subscribe/received": 1,
            "metrics/packets/suback/sent": 1,
            "metrics/packets/pingreq/received": 1,
            "metrics/packets/pingresp/sent": 1,
            "metrics/packets/disconnect/received": 1,
            "metrics/messages/received": 18,
            "metrics/messages/qos0/received": 5,
            "metrics/messages/qos1/received": 10,
            "metrics/messages/qos2/received": 3,
            "metrics/messages/sent": 13,
            "metrics/messages/qos1/sent": 10,
            "metrics/messages/qos2/sent": 3,
            "metrics/messages/dropped": 5,
          };
          await sys.waitFor(
            Object.keys(inc),
            (v) => Object.entries(inc).every(([k, d]) => (v[k] ?? 0) >= (m0[k] ?? 0) + d),
            `metrics grow by at least ${JSON.stringify(inc)} from ${JSON.stringify(m0)}`,
          );
        } finally {
          await raw.close();
          await closeAll([sub, pub]);
        }
      },
    });

    await t.step({
      name: "client connected/disconnected events with EMQX's JSON payloads",
      ignore: EMQX_ONLY,
      fn: async () => {
        const ev = `${SYS}/clients`;
        const xid = id(1, "ex");
        const yid = id(2, "ey");
        const parse = (m: Received): Record<string, unknown> => JSON.parse(m.payload);
        const on = (cid: string, what: string) => (m: Received) =>
          m.topic === `${ev}/${cid}/${what}`;
        const t0 = Date.now();
        const x = await connect(b.url, {
          protocolVersion: 5,
          clientId: xid,
          username: "u1",
          keepalive: 33,
        });
        const t1 = Date.now();
        const cx = parse(await takeMatching(watcher, on(xid, "connected"), 3_000));
        assertEquals(
          [cx.clientid, cx.username, cx.ipaddress, cx.proto_ver, cx.keepalive, cx.clean_start],
          [xid, "u1", "127.0.0.1", 5, 33, true],
          `connected event ${JSON.stringify(cx)}`,
        );
        const at = Number(cx.connected_at);
        assert(
          at >= t0 - 1_000 && at <= t1 + 1_000,
          `connected_at ${at} (epoch ms) in [${t0}, ${t1}]`,
        );
        assert(typeof cx.ts === "number" && cx.ts >= at, `ts ${cx.ts}`);
        await disconnect(x);
        const dx = parse(await takeMatching(watcher, on(xid, "disconnected"), 3_000));
        assertEquals(
          [dx.clientid, dx.username, dx.reason],
          [xid, "u1", "normal"],
          `disconnected ${JSON.stringify(dx)}`,
        );
        assert(
          Math.abs(Number(dx.disconnected_at) - Date.now()) < 5_000,
          `disconnected_at ${dx.disconnected_at}`,
        );
        assert(typeof dx.ts === "number", `ts ${dx.ts}`);

        const y = await connect(b.url, {
          protocolVersion: 4,
          clientId: yid,
          clean: false,
          keepalive: 44,
        });
        const cy = parse(await takeMatching(watcher, on(yid, "connected"), 3_000));
        assertEquals(
          [cy.clientid, cy.proto_ver, cy.keepalive, cy.clean_start],
          [yid, 4, 44, false],
          `connected event ${JSON.stringify(cy)}`,
        );
        await destroy(y);
        const dy = parse(await takeMatching(watcher, on(yid, "disconnected"), 3_000));
        assert(
          dy.clientid === yid && typeof dy.reason === "string" && dy.reason !== "" &&
            dy.reason !== "normal",
          `an abnormal close is not "normal": ${JSON.stringify(dy)}`,
        );
        await disconnect(
          await connect(b.url, { protocolVersion: 4, clientId: yid, clean: true }),
        );
      },
    });

    await t.step(
      "a client PUBLISH to $SYS/... is delivered to nobody; v5 QoS 1 → PUBACK 0x87",
      async () => {
        const spy = await connect(b.url, { protocolVersion: 5, clientId: id(2, "sp") });
        const fake = `fake-${tag}`;
        try {
          await subscribe(spy, "$SYS/#", { qos: 1 });
          const { raw } = await openRaw5(b.port, { clientId: id(1, "sw") });
          try {
            for (const [i, topic] of [`${SYS}/version`, `$SYS/${tag}/x`].entries()) {
              await raw.send(publish5Packet({ topic, payload: fake, qos: 1, packetId: i + 1 }));
              const ack = await raw.expectPacket(`PUBACK for ${topic}`);
              assertEquals(
                [ack.type, rc(parseAck5(ack).reason)],
                [PacketType.PUBACK, rc(Reason.NOT_AUTHORIZED)],
                `PUBACK for ${topic}`,
              );
            }
            await raw.send(publish5Packet({ topic: `$SYS/${tag}/q0`, payload: fake }));
          } finally {
            await raw.close();
          }
          // 3.1.1 has no negative PUBACK: a positive one or a close [MQTT-3.3.5-2], never delivery.
          const v4 = await RawClient.open(b.port, { version: 4, clientId: id(3, "s4") });
          try {
            await v4.raw.send(
              publishPacket({ version: 4, topic: `$SYS/${tag}/v4`, payload: fake, qos: 1 }),
            );
            await v4.raw.readPacket(2_000).catch(() => null);
          } finally {
            await v4.raw.close();
          }
          await sleep(1_500);
          const all = await drain(spy, 0);
          const got = all.filter((m) => m.payload === fake);
          assertEquals(got.map((m) => m.topic), [], "client messages on $SYS delivered");
          if (!EMQX_ONLY) {
            // `$SYS/#` itself matches the broker's own $SYS topics (1 s interval here).
            assert(
              all.some((m) => m.topic.startsWith(`${SYS}/`)),
              "$SYS/# gets the broker's topics",
            );
          }
        } finally {
          await closeAll([spy]);
        }
      },
    );
  });
});
