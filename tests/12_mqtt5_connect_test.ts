/**
 * Integration suite 12 (connect): MQTT 5.0 CONNECT/CONNACK properties and server-initiated
 * DISCONNECT — assigned client identifier, the capabilities the CONNACK announces, Server Keep
 * Alive (announced and enforced, ending in DISCONNECT 0x8D), Response Information, enhanced
 * authentication refused (CONNACK 0x8C) and an AUTH without a method (DISCONNECT 0x82), session
 * takeover (0x8E) and server shutdown on SIGTERM (0x8B).
 *
 * Broker: --shards 4 --set mqtt.server_keepalive=5 --set mqtt.response_information=resp/.
 * Connection-level behaviour, so one shard count. Judged per MQTT 5.0 sections 3.1.2.11,
 * 3.1.4, 3.2.2.3, 3.14, 4.12 and 4.13.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import type { BrokerHandle } from "./_helpers/broker.ts";
import { clientIdForShard, runTag } from "./_helpers/clients.ts";
import {
  authPacket,
  closeReason,
  type Connack5,
  connect5Packet,
  openRaw5,
  parseConnack5,
  Prop,
  prop,
  propOf,
  propsOf,
  rc,
  Reason,
  serverDisconnect,
} from "./_helpers/mqtt5.ts";
import { RawClient } from "./_helpers/raw_client.ts";
import { withBroker } from "./_helpers/suite.ts";

const SHARDS = 4;
const SERVER_KEEPALIVE = 5;
const RESPONSE_INFORMATION = "resp/";
const SETS = [
  `mqtt.server_keepalive=${SERVER_KEEPALIVE}`,
  `mqtt.response_information=${RESPONSE_INFORMATION}`,
];

/** Sends a v5 CONNECT on a new connection and returns the CONNACK, whatever its reason. */
async function connack(b: BrokerHandle, fields: Parameters<typeof connect5Packet>[0]) {
  const raw = await RawClient.connect(b.port);
  await raw.send(connect5Packet(fields));
  const ack = parseConnack5(await raw.expectPacket("CONNACK"));
  return { raw, ack };
}

/** A capability the CONNACK must announce as available (1); absent means 1 per the spec. */
function assertAvailable(b: BrokerHandle, ack: Connack5, id: number, name: string): void {
  const v = propOf(ack.props, id);
  // EMQX announces every capability explicitly; Mosquitto leaves the available ones out.
  if (v === undefined && b.isMosquitto) return;
  assertEquals(v, 1, `CONNACK ${name}`);
}

Deno.test({ name: "12 mqtt5 connect" }, async (t) => {
  const tag = runTag();
  await withBroker({ shards: SHARDS, sets: SETS }, async (b) => {
    let seq = 0;
    const id = (shard: number, p: string) => clientIdForShard(shard, SHARDS, `c12${p}${seq++}`);

    await t.step(
      "CONNACK to an empty client id: Assigned Client Identifier and the announced capabilities [MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16]",
      async () => {
        const { raw, ack } = await connack(b, { clientId: "" });
        await raw.close();
        assertEquals(ack.reason, 0, "CONNACK reason");
        assertEquals(ack.sessionPresent, false, "session present");
        const assigned = propOf(ack.props, Prop.ASSIGNED_CLIENT_IDENTIFIER);
        assert(
          typeof assigned === "string" && assigned.length > 0,
          `Assigned Client Identifier: ${assigned}`,
        );
        const tam = Number(propOf(ack.props, Prop.TOPIC_ALIAS_MAXIMUM) ?? 0);
        assert(tam > 0, `Topic Alias Maximum ${tam} announced`);
        const rm = Number(propOf(ack.props, Prop.RECEIVE_MAXIMUM) ?? 0);
        assert(rm > 0 && rm <= 65535, `Receive Maximum ${rm} announced`);
        assertAvailable(b, ack, Prop.RETAIN_AVAILABLE, "Retain Available");
        assertAvailable(b, ack, Prop.WILDCARD_SUBSCRIPTION_AVAILABLE, "Wildcard Subscription");
        assertAvailable(b, ack, Prop.SUBSCRIPTION_IDENTIFIER_AVAILABLE, "Subscription Ids");
        assertAvailable(b, ack, Prop.SHARED_SUBSCRIPTION_AVAILABLE, "Shared Subscription");
        assertEquals(
          propsOf(ack.props, Prop.AUTHENTICATION_METHOD),
          [],
          "no auth method [MQTT-4.12.0-6]",
        );
        assertEquals(
          propsOf(ack.props, Prop.RESPONSE_INFORMATION),
          [],
          "no Response Information unless requested [MQTT-3.1.2-28]",
        );
        // A second empty-id client gets a different identifier.
        const other = await connack(b, { clientId: "" });
        await other.raw.close();
        const second = propOf(other.ack.props, Prop.ASSIGNED_CLIENT_IDENTIFIER);
        assert(second !== assigned, `assigned identifiers are unique: ${assigned} / ${second}`);
      },
    );

    await t.step(
      `Server Keep Alive ${SERVER_KEEPALIVE} replaces the client's 60 and is enforced: DISCONNECT 0x8D [MQTT-3.2.2-21] [MQTT-3.1.2-22]`,
      async () => {
        const { raw, connack: ack } = await openRaw5(b.port, {
          clientId: id(1, "ka"),
          keepalive: 60,
        });
        try {
          assertEquals(propOf(ack.props, Prop.SERVER_KEEP_ALIVE), SERVER_KEEPALIVE, "CONNACK");
          const t0 = Date.now();
          // Silent from now on: the broker must use 5 s, not the 60 s the client asked for.
          const d = await serverDisconnect(raw, "keepalive timeout", {
            timeoutMs: 1.5 * SERVER_KEEPALIVE * 1000 + 3_000,
          });
          const elapsed = Date.now() - t0;
          assert(elapsed >= SERVER_KEEPALIVE * 1000 - 200, `closed after ${elapsed} ms`);
          if (!b.isMosquitto) {
            assertEquals(rc(d?.reason), rc(Reason.KEEP_ALIVE_TIMEOUT), "DISCONNECT reason");
            assertEquals(
              propsOf(d?.props ?? [], Prop.SESSION_EXPIRY_INTERVAL),
              [],
              "no Session Expiry Interval from the server [MQTT-3.14.2-2]",
            );
          }
        } finally {
          await raw.close();
        }
      },
    );

    await t.step(
      "Request Response Information 1 → CONNACK Response Information from the config (MQTT 5.0 3.1.2.11.7, 3.2.2.3.15)",
      async () => {
        const yes = await openRaw5(b.port, {
          clientId: id(1, "ri"),
          props: [prop(Prop.REQUEST_RESPONSE_INFORMATION, 1)],
        });
        await yes.raw.close();
        assertEquals(
          propOf(yes.connack.props, Prop.RESPONSE_INFORMATION),
          RESPONSE_INFORMATION,
          "Response Information",
        );
        const no = await openRaw5(b.port, {
          clientId: id(1, "rn"),
          props: [prop(Prop.REQUEST_RESPONSE_INFORMATION, 0)],
        });
        await no.raw.close();
        assertEquals(
          propsOf(no.connack.props, Prop.RESPONSE_INFORMATION),
          [],
          "not sent when the client asked for none [MQTT-3.1.2-28]",
        );
      },
    );

    await t.step(
      "CONNECT with an Authentication Method nobody provides → CONNACK 0x8C, connection closed [MQTT-4.12.0-1] [MQTT-3.2.2-7]",
      async () => {
        const { raw, ack } = await connack(b, {
          clientId: id(1, "am"),
          props: [prop(Prop.AUTHENTICATION_METHOD, `X-UNKNOWN-${tag}`)],
        });
        try {
          assertEquals(rc(ack.reason), rc(Reason.BAD_AUTHENTICATION_METHOD), "CONNACK reason");
          assertEquals(ack.sessionPresent, false, "session present 0 on a refusal [MQTT-3.2.2-6]");
          await raw.expectClose("after CONNACK 0x8C");
        } finally {
          await raw.close();
        }
      },
    );

    await t.step(
      "AUTH from a client that gave no Authentication Method → DISCONNECT 0x82 [MQTT-4.12.0-7]",
      async () => {
        const { raw } = await openRaw5(b.port, { clientId: id(1, "au") });
        try {
          await raw.send(authPacket(0x18, [prop(Prop.AUTHENTICATION_METHOD, "SCRAM-SHA-256")]));
          assertEquals(
            rc(await closeReason(raw, "AUTH without a method in use")),
            rc(Reason.PROTOCOL_ERROR),
            "DISCONNECT reason",
          );
        } finally {
          await raw.close();
        }
      },
    );

    await t.step(
      "session takeover: the old connection gets DISCONNECT 0x8E [MQTT-3.1.4-3]",
      async () => {
        const clientId = id(2, "to");
        const first = await openRaw5(b.port, { clientId });
        try {
          const second = await openRaw5(b.port, { clientId });
          try {
            const d = await serverDisconnect(first.raw, "the taken-over connection");
            assertEquals(rc(d?.reason), rc(Reason.SESSION_TAKEN_OVER), "DISCONNECT reason");
            assertEquals(
              propsOf(d?.props ?? [], Prop.SESSION_EXPIRY_INTERVAL),
              [],
              "no Session Expiry Interval from the server [MQTT-3.14.2-2]",
            );
            assertEquals(second.connack.reason, 0, "the new connection is accepted");
          } finally {
            await second.raw.close();
          }
        } finally {
          await first.raw.close();
        }
      },
    );
  });
});

Deno.test(
  { name: "12 mqtt5 connect: SIGTERM sends DISCONNECT 0x8B to v5 clients, then exits 0" },
  async () => {
    await withBroker({ shards: SHARDS }, async (b) => {
      const clients = await Promise.all(
        [0, 1, 2, 3].map((s) =>
          openRaw5(b.port, { clientId: clientIdForShard(s, SHARDS, `c12sd${s}`) })
        ),
      );
      try {
        const closes = clients.map(({ raw }) =>
          serverDisconnect(raw, "server shutdown", { timeoutMs: 10_000 })
        );
        const code = await b.stop();
        const ds = await Promise.all(closes);
        assertEquals(
          ds.map((d) => rc(d?.reason)),
          clients.map(() => rc(Reason.SERVER_SHUTTING_DOWN)),
          "DISCONNECT reason on every shard",
        );
        assertEquals(code, 0, "exit code");
      } finally {
        await Promise.all(clients.map(({ raw }) => raw.close()));
      }
    });
  },
);
