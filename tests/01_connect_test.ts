/**
 * Integration suite 01: CONNECT / CONNACK, client identifiers, protocol levels, PINGREQ.
 *
 * Judges the broker from the wire only (raw bytes and npm:mqtt), per MQTT 3.1.1 and 5.0. Each
 * behaviour runs for protocol levels 4 and 5 (3.1 has its own step) with 1 and 4 shards.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { clientIdForShard, connackOf, connect, disconnect } from "./_helpers/clients.ts";
import {
  connectPacket,
  disconnectReason,
  hex,
  PacketType,
  parseConnack,
  PINGREQ,
  PINGRESP,
  propString,
  RawClient,
} from "./_helpers/raw_client.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

/** MQTT 5 Assigned Client Identifier property [MQTT 5 3.2.2.3.7]. */
const ASSIGNED_CLIENT_ID = 0x12;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `01 connect: shards=${shards}` }, async (t) => {
    await withBroker({ shards }, async (broker) => {
      await t.step("v3 (MQIsdp): CONNECT is accepted with CONNACK 0x00", async () => {
        const raw = await RawClient.connect(broker.port);
        try {
          const id = clientIdForShard(0, shards, "c01v3");
          await raw.send(connectPacket({ version: 3, clientId: id }));
          await raw.expectBytes("CONNACK accepted", [0x20, 0x02, 0x00, 0x00]);
          await raw.send(PINGREQ);
          await raw.expectBytes("PINGRESP", PINGRESP);
        } finally {
          await raw.close();
        }
      });

      await t.step(
        "unsupported protocol level 6: CONNACK 0x01 then close [MQTT-3.1.2-2]",
        async () => {
          const raw = await RawClient.connect(broker.port);
          try {
            const id = clientIdForShard(0, shards, "c01lvl");
            await raw.send(connectPacket({ version: 4, clientId: id, levelByte: 6 }));
            await raw.expectBytes("CONNACK 0x01 unacceptable protocol level", [0x20, 2, 0, 1]);
            await raw.expectClose("after CONNACK 0x01 [MQTT-3.2.2-5]");
          } finally {
            await raw.close();
          }
        },
      );

      for (const v of VERSIONS) {
        await t.step(`v${v}: CONNECT accepted on every shard, session present 0`, async () => {
          for (let shard = 0; shard < shards; shard++) {
            const id = clientIdForShard(shard, shards, `c01ok${v}`);
            const raw = await RawClient.connect(broker.port);
            try {
              await raw.send(connectPacket({ version: v, clientId: id }));
              if (v === 4) {
                // [MQTT-3.2.2-1] clean session → session present 0; return code 0 [MQTT-3.1.4-4]
                await raw.expectBytes(`CONNACK for ${id}`, [0x20, 0x02, 0x00, 0x00]);
              } else {
                const p = await raw.expectPacket("CONNACK");
                assertEquals(p.bytes[0], 0x20, `CONNACK fixed header (${hex(p.bytes)})`);
                const c = parseConnack(p, 5);
                assertEquals([c.sessionPresent, c.code], [false, 0], `CONNACK for ${id}`);
              }
            } finally {
              await raw.close();
            }
          }
        });

        await t.step(`v${v}: npm:mqtt connects (CONNACK 0, session present false)`, async () => {
          const id = clientIdForShard(shards - 1, shards, `c01js${v}`);
          const client = await connect(broker.url, { protocolVersion: v, clientId: id });
          try {
            const c = connackOf(client);
            const code = v === 5 ? c.reasonCode : c.returnCode;
            assertEquals([code ?? 0, c.sessionPresent], [0, false], "CONNACK");
          } finally {
            await disconnect(client);
          }
        });

        await t.step(`v${v}: empty client id with clean session is given an id`, async () => {
          const raw = await RawClient.connect(broker.port);
          try {
            await raw.send(connectPacket({ version: v, clientId: "" }));
            const c = parseConnack(await raw.expectPacket("CONNACK"), v);
            // [MQTT-3.1.3-6] the server assigns a unique id and proceeds as if it was given.
            assertEquals(c.code, 0, "CONNACK code for empty client id");
            if (v === 5) {
              // MQTT 5: the assigned id is returned in the CONNACK [MQTT-3.2.2-16].
              const assigned = propString(c.properties.get(ASSIGNED_CLIENT_ID));
              assert(assigned && assigned.length > 0, "CONNACK carries Assigned Client Identifier");
            }
            await raw.send(PINGREQ);
            await raw.expectBytes("PINGRESP on the assigned-id connection", PINGRESP);
          } finally {
            await raw.close();
          }
        });

        if (v === 4) {
          await t.step(
            "v4: empty client id with clean session 0 → CONNACK 0x02, close [MQTT-3.1.3-8]",
            async () => {
              const raw = await RawClient.connect(broker.port);
              try {
                await raw.send(connectPacket({ version: 4, clientId: "", clean: false }));
                await raw.expectBytes("CONNACK 0x02 identifier rejected", [0x20, 2, 0, 2]);
                await raw.expectClose("after CONNACK 0x02 [MQTT-3.2.2-5]");
              } finally {
                await raw.close();
              }
            },
          );
        }

        await t.step(`v${v}: a second CONNECT closes the connection [MQTT-3.1.0-2]`, async () => {
          const id = clientIdForShard(0, shards, `c01two${v}`);
          const { raw } = await RawClient.open(broker.port, { version: v, clientId: id });
          try {
            await raw.send(connectPacket({ version: v, clientId: id }));
            // MQTT 5 lets the server say why first: DISCONNECT 0x82 Protocol Error.
            const seen = await raw.expectClose("after a second CONNECT", {
              allow: (p) => v === 5 && p.type === PacketType.DISCONNECT,
            });
            for (const p of seen) assertEquals(disconnectReason(p), 0x82, "DISCONNECT reason");
          } finally {
            await raw.close();
          }
        });

        await t.step(
          `v${v}: CONNECT with reserved flag bit set is refused [MQTT-3.1.2-3]`,
          async () => {
            const raw = await RawClient.connect(broker.port);
            try {
              const bytes = connectPacket({
                version: v,
                clientId: clientIdForShard(0, shards, "c01rsv"),
              });
              // Connect flags are the byte after protocol name (6 bytes) and level (1 byte).
              const flagsAt = 2 + 6 + 1;
              bytes[flagsAt] = (bytes[flagsAt] ?? 0) | 0x01;
              await raw.send(bytes);
              // MQTT 5 allows a CONNACK with an error code (0x81 Malformed Packet) before closing.
              await raw.expectClose("after a CONNECT with reserved flag 1", {
                allow: (p) => v === 5 && p.type === PacketType.CONNACK && (p.body[1] ?? 0) >= 0x80,
              });
            } finally {
              await raw.close();
            }
          },
        );

        await t.step(`v${v}: PINGREQ → PINGRESP [MQTT-3.12.4-1]`, async () => {
          const id = clientIdForShard(shards - 1, shards, `c01ping${v}`);
          const { raw } = await RawClient.open(broker.port, { version: v, clientId: id });
          try {
            for (let i = 0; i < 3; i++) {
              await raw.send(PINGREQ);
              await raw.expectBytes(`PINGRESP #${i + 1}`, PINGRESP);
            }
          } finally {
            await raw.close();
          }
        });
      }
    });
  });
}
