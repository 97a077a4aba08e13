/**
 * Integration suite 08: interoperability with Debian's mosquitto-clients — mosquitto_pub and
 * mosquitto_sub at QoS 0, 1 and 2, retained messages, with MQTT 3.1.1 and with `-V mqttv5`, and
 * mixed with npm:mqtt clients. Tool ids hash to different shards so traffic crosses shards.
 */

import { assertEquals } from "./_helpers/assert.ts";
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
  mosquittoPub,
  mosquittoSub,
  parseSubLines,
  spawnMosquittoSub,
  type ToolResult,
} from "./_helpers/mosquitto.ts";
import { SHARD_COUNTS, VERSIONS, withBroker } from "./_helpers/suite.ts";

const TOOL_VERSION = { 4: "mqttv311", 5: "mqttv5" } as const;

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `08 interop: shards=${shards}` }, async (t) => {
    const tag = runTag();
    await withBroker({ shards }, async (broker) => {
      for (const v of VERSIONS) {
        const base = `t08/${tag}/v${v}`;
        const version = TOOL_VERSION[v];
        const port = broker.port;

        await t.step(`v${v}: mosquitto_pub → mosquitto_sub at QoS 0, 1 and 2`, async () => {
          const topic = `${base}/qos`;
          const sub = spawnMosquittoSub({
            port,
            version,
            clientId: clientIdForShard(0, shards, `c08s${v}`),
            qos: 2,
            topics: [topic],
            count: 3,
            waitSeconds: 15,
            debug: true,
          });
          let r: ToolResult;
          try {
            await sub.waitFor(/received SUBACK/, 10_000);
            for (const qos of [0, 1, 2] as const) {
              const clientId = clientIdForShard(1, shards, `c08p${v}q${qos}`);
              await mosquittoPub({ port, version, clientId, qos, topic, message: `m${qos}` });
            }
          } finally {
            r = await sub.finish();
          }
          assertEquals(
            parseSubLines(r.stdout).map((m) => [m.payload, m.qos, m.retain]),
            [["m0", 0, false], ["m1", 1, false], ["m2", 2, false]],
            `mosquitto_sub output (exit ${r.code}, stderr: ${r.stderr})`,
          );
          assertEquals(r.code, 0, "mosquitto_sub exit code");
        });

        await t.step(`v${v}: retained with mosquitto_pub -r, read and cleared`, async () => {
          const topic = `${base}/retained`;
          const pubId = clientIdForShard(1, shards, `c08rp${v}`);
          await mosquittoPub({
            port,
            version,
            clientId: pubId,
            qos: 1,
            topic,
            message: "kept",
            retain: true,
          });
          const r = await mosquittoSub({
            port,
            version,
            clientId: clientIdForShard(0, shards, `c08rs${v}`),
            qos: 1,
            topics: [`${base}/#`],
            count: 1,
            waitSeconds: 10,
          });
          assertEquals(
            parseSubLines(r.stdout).map((m) => [m.topic, m.payload, m.qos, m.retain]),
            [[topic, "kept", 1, true]],
            `retained message (stderr: ${r.stderr})`,
          );
          await mosquittoPub({
            port,
            version,
            clientId: pubId,
            qos: 1,
            topic,
            message: "",
            retain: true,
          });
          const empty = await mosquittoSub({
            port,
            version,
            clientId: clientIdForShard(0, shards, `c08rs${v}e`),
            qos: 1,
            topics: [`${base}/#`],
            waitSeconds: 2,
          });
          assertEquals(parseSubLines(empty.stdout), [], "nothing retained after clearing");
        });

        await t.step(`v${v}: mosquitto_pub → npm:mqtt and npm:mqtt → mosquitto_sub`, async () => {
          const topic = `${base}/mixed`;
          const js = await connect(broker.url, {
            protocolVersion: v,
            clientId: clientIdForShard(0, shards, `c08js${v}`),
          });
          const sub = spawnMosquittoSub({
            port,
            version,
            clientId: clientIdForShard(2, shards, `c08ms${v}`),
            qos: 2,
            topics: [`${topic}/to-tool`],
            count: 1,
            waitSeconds: 15,
            debug: true,
          });
          let r: ToolResult;
          try {
            await subscribe(js, `${topic}/to-js`, { qos: 2 });
            const clientId = clientIdForShard(1, shards, `c08mp${v}`);
            await mosquittoPub({
              port,
              version,
              clientId,
              qos: 2,
              topic: `${topic}/to-js`,
              message: "hi js",
            });
            const got = await collect(js, 1, 5_000);
            assertEquals(
              got.map((m) => [m.payload, m.packet.qos]),
              [["hi js", 2]],
              "npm:mqtt received",
            );
            await sub.waitFor(/received SUBACK/, 10_000);
            await publish(js, `${topic}/to-tool`, "hi tool", { qos: 1 });
          } finally {
            r = await sub.finish();
            await closeAll([js]);
          }
          assertEquals(
            parseSubLines(r.stdout).map((m) => [m.payload, m.qos]),
            [["hi tool", 1]],
            `mosquitto_sub received (stderr: ${r.stderr})`,
          );
        });
      }
    });
  });
}
