/**
 * Integration suite 16: MQTT 5.0 interoperability with Debian's mosquitto-clients — user
 * properties (order and duplicate keys), response topic, content type, correlation data and
 * payload format from `mosquitto_pub -V mqttv5 -D PUBLISH ...` to `mosquitto_sub -V mqttv5 -F`
 * and to npm:mqtt and back, subscription identifiers (`-D SUBSCRIBE subscription-identifier`),
 * request/response with `mosquitto_rr`, and shared subscriptions split between two
 * `mosquitto_sub -t '$share/g/t'` processes. Tool ids hash to different shards.
 *
 * Judged per MQTT 5.0 sections 3.3.2.3, 3.3.4, 4.8.2 and 4.10.
 */

import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  publish,
  runTag,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";
import {
  mosquittoPub,
  mosquittoRr,
  parseSubLines,
  spawnMosquittoSub,
  type ToolResult,
} from "./_helpers/mosquitto.ts";
import { SHARD_COUNTS, withBroker } from "./_helpers/suite.ts";

/** -F format printing the MQTT 5 properties; fields separated by "|". */
const PROPS_FORMAT = "PROPS|%t|%P|%R|%C|%D|%F|%S|%p";

/** The PROPS_FORMAT lines of a mosquitto_sub output, split into fields. */
function propLines(stdout: string): string[][] {
  return stdout.split("\n").filter((l) => l.startsWith("PROPS|")).map((l) => l.split("|").slice(1));
}

/** -D PUBLISH arguments for each property. */
function publishProps(pairs: readonly (readonly string[])[]): string[] {
  return pairs.flatMap((p) => ["-D", "PUBLISH", ...p]);
}

for (const shards of SHARD_COUNTS) {
  Deno.test({ name: `16 interop5: shards=${shards}` }, async (t) => {
    const tag = runTag();
    const base = `t16/${tag}`;
    await withBroker({ shards }, async (b) => {
      const port = b.port;
      let seq = 0;
      const id = (shard: number, p: string) => clientIdForShard(shard, shards, `c16${p}${seq++}`);

      await t.step(
        "mosquitto_pub -D PUBLISH user-property/response-topic/content-type/correlation-data → mosquitto_sub -F %P %R %C %D %F [MQTT-3.3.2-15..20]",
        async () => {
          const topic = `${base}/props`;
          const sub = spawnMosquittoSub({
            port,
            version: "mqttv5",
            clientId: id(0, "ms"),
            qos: 1,
            topics: [topic],
            count: 1,
            waitSeconds: 10,
            debug: true,
            format: PROPS_FORMAT,
          });
          let r: ToolResult;
          try {
            await sub.waitFor(/received SUBACK/, 10_000);
            await mosquittoPub({
              port,
              version: "mqttv5",
              clientId: id(1, "mp"),
              qos: 1,
              topic,
              message: "hello",
              extraArgs: publishProps([
                ["user-property", "k1", "v1"],
                ["user-property", "k2", "v2"],
                ["user-property", "k1", "v3"],
                ["response-topic", `${base}/reply`],
                ["content-type", "text/plain"],
                ["correlation-data", "abc"],
                ["payload-format-indicator", "1"],
              ]),
            });
          } finally {
            r = await sub.finish();
          }
          assertEquals(
            propLines(r.stdout),
            [[topic, "k1:v1 k2:v2 k1:v3", `${base}/reply`, "text/plain", "abc", "1", "", "hello"]],
            `mosquitto_sub output (exit ${r.code}, stderr: ${r.stderr})`,
          );
        },
      );

      await t.step(
        "npm:mqtt properties → mosquitto_sub; mosquitto_pub properties → npm:mqtt",
        async () => {
          const topic = `${base}/mixed`;
          const js = await connect(b.url, { protocolVersion: 5, clientId: id(2, "js") });
          const sub = spawnMosquittoSub({
            port,
            version: "mqttv5",
            clientId: id(0, "ms"),
            qos: 1,
            topics: [`${topic}/to-tool`],
            count: 1,
            waitSeconds: 10,
            debug: true,
            format: PROPS_FORMAT,
          });
          let r: ToolResult;
          try {
            await subscribe(js, `${topic}/to-js`, { qos: 1 });
            await mosquittoPub({
              port,
              version: "mqttv5",
              clientId: id(1, "mp"),
              qos: 1,
              topic: `${topic}/to-js`,
              message: "hi js",
              extraArgs: publishProps([
                ["user-property", "a", "1"],
                ["user-property", "b", "2"],
                ["user-property", "a", "3"],
                ["response-topic", `${topic}/reply`],
                ["correlation-data", "xyz"],
              ]),
            });
            const [m] = await collect(js, 1, 5_000);
            const p = m?.packet.properties;
            assertEquals(m?.payload, "hi js", "payload");
            assertEquals(p?.userProperties, { a: ["1", "3"], b: "2" }, "user properties");
            assertEquals(p?.responseTopic, `${topic}/reply`, "response topic");
            assertEquals(new TextDecoder().decode(p?.correlationData), "xyz", "correlation data");
            await sub.waitFor(/received SUBACK/, 10_000);
            await publish(js, `${topic}/to-tool`, "hi tool", {
              qos: 1,
              properties: {
                userProperties: { x: "1", y: ["2", "3"] },
                responseTopic: `${topic}/back`,
                contentType: "application/x",
              },
            });
          } finally {
            r = await sub.finish();
            await closeAll([js]);
          }
          assertEquals(
            propLines(r.stdout).map((f) => [f[0], f[1], f[2], f[3], f[7]]),
            [[`${topic}/to-tool`, "x:1 y:2 y:3", `${topic}/back`, "application/x", "hi tool"]],
            `mosquitto_sub output (stderr: ${r.stderr})`,
          );
        },
      );

      await t.step(
        "mosquitto_sub -D SUBSCRIBE subscription-identifier 7 → %S prints 7 [MQTT-3.3.4-3]",
        async () => {
          const topic = `${base}/sid`;
          const sub = spawnMosquittoSub({
            port,
            version: "mqttv5",
            clientId: id(0, "ss"),
            qos: 1,
            topics: [topic],
            count: 1,
            waitSeconds: 10,
            debug: true,
            format: PROPS_FORMAT,
            extraArgs: ["-D", "SUBSCRIBE", "subscription-identifier", "7"],
          });
          let r: ToolResult;
          try {
            await sub.waitFor(/received SUBACK/, 10_000);
            await mosquittoPub({
              port,
              version: "mqttv5",
              clientId: id(1, "sp"),
              qos: 1,
              topic,
              message: "id",
            });
          } finally {
            r = await sub.finish();
          }
          assertEquals(
            propLines(r.stdout).map((f) => [f[0], f[6], f[7]]),
            [[topic, "7", "id"]],
            `mosquitto_sub output (stderr: ${r.stderr})`,
          );
        },
      );

      await t.step(
        "mosquitto_rr request/response through an npm:mqtt responder (MQTT 5.0 4.10)",
        async () => {
          const reqTopic = `${base}/rr/req`;
          const responder = await connect(b.url, { protocolVersion: 5, clientId: id(1, "rs") });
          let answered = 0;
          responder.on("message", (topic, payload, packet) => {
            const rt = packet.properties?.responseTopic;
            if (topic !== reqTopic || !rt) return;
            answered++;
            responder.publish(rt, `pong:${payload}`, {
              qos: 1,
              properties: {
                correlationData: packet.properties?.correlationData ?? Buffer.alloc(0),
              },
            });
          });
          try {
            await subscribe(responder, reqTopic, { qos: 1 });
            const r = await mosquittoRr({
              port,
              version: "mqttv5",
              clientId: id(0, "rr"),
              qos: 1,
              topic: reqTopic,
              responseTopic: `${base}/rr/resp/${tag}`,
              message: "ping",
              waitSeconds: 5,
            });
            assertEquals(
              [r.stdout.trim(), answered],
              ["pong:ping", 1],
              `mosquitto_rr (stderr: ${r.stderr})`,
            );
          } finally {
            await closeAll([responder]);
          }
        },
      );

      await t.step(
        "two mosquitto_sub -t '$share/g/t' (v5 and 3.1.1) get disjoint sets that add up to every message",
        async () => {
          const topic = `${base}/shared`;
          const subs = (["mqttv5", "mqttv311"] as const).map((version, i) =>
            spawnMosquittoSub({
              port,
              version,
              clientId: id(i, "sh"),
              qos: 1,
              topics: [`$share/g/${topic}`],
              waitSeconds: 15,
              debug: true,
            })
          );
          const results: ToolResult[] = [];
          const pub = await connect(b.url, { protocolVersion: 5, clientId: id(2, "shp") });
          try {
            for (const s of subs) await s.waitFor(/received SUBACK/, 10_000);
            const n = 20;
            for (let i = 0; i < n; i++) await publish(pub, topic, `m${i}`, { qos: 1 });
            const deadline = Date.now() + 10_000;
            while (
              subs.reduce((k, s) => k + parseSubLines(s.stdout()).length, 0) < n &&
              Date.now() < deadline
            ) await sleep(100);
            await sleep(300);
          } finally {
            for (const s of subs) {
              s.signal("SIGKILL");
              results.push(await s.finish());
            }
            await closeAll([pub]);
          }
          const sets = results.map((r) => parseSubLines(r.stdout).map((m) => m.payload));
          const all = sets.flat().sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
          assertEquals(
            all,
            Array.from({ length: 20 }, (_, i) => `m${i}`),
            "each message exactly once",
          );
          assert(
            sets.every((s) => s.length > 0),
            `both members got messages: ${sets.map((s) => s.length)}`,
          );
        },
      );
    });
  });
}
