/**
 * Integration suite 24 (issue 14): the HTTP API's resources over real HTTP against a running
 * broker with real MQTT clients (npm:mqtt): API keys (Basic auth, bootstrap file, viewer role,
 * keys refused on /api_key), subscriptions and topics with filters and paging, retained messages
 * (list, read, delete, 404), bans (add kicks the client, duplicates, filters, delete, clear),
 * stats, metrics, nodes, listeners, configs, a Prometheus text-format parse check of
 * /prometheus/stats (npm:parse-prometheus-text-format), and an API publish reaching MQTT
 * subscribers. Four shards. Credentials on every route, admin users and the OpenAPI document:
 * 24_api_routes_test.ts.
 */

import parsePrometheus from "parse-prometheus-text-format";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { withApiBroker } from "./_helpers/api.ts";
import {
  closeAll,
  collect,
  connect,
  publish,
  runTag,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";

const BOOT_KEY = "boot-key";
const BOOT_SECRET = "boot-secret-0123456789";

Deno.test("24 api resources: keys, subscriptions, retained, bans, metrics, prometheus", async (t) => {
  const tag = runTag();
  const keyDir = await Deno.makeTempDir({ prefix: "culex_test_keys_" });
  const bootstrap = `${keyDir}/keys.txt`;
  await Deno.writeTextFile(
    bootstrap,
    `# bootstrap keys\n${BOOT_KEY}:${BOOT_SECRET}\nviewer-key:viewer-secret-0123:viewer\n`,
  );
  try {
    await withApiBroker({
      shards: 4,
      sets: [`api_key.bootstrap_file=${bootstrap}`, "sys_topics.sys_msg_interval=0"],
    }, async ({ broker, api }) => {
      const boot = { key: BOOT_KEY, secret: BOOT_SECRET };
      const viewer = { key: "viewer-key", secret: "viewer-secret-0123" };

      await t.step("API keys: bootstrap key works as Basic auth; viewer may only GET", async () => {
        const r = await api.get("/clients", { as: boot });
        assertEquals(r.status, 200, r.text);
        assertEquals((await api.get("/stats", { as: viewer })).status, 200, "viewer GET");
        const pub = await api.post("/publish", { topic: "x", payload: "y" }, { as: viewer });
        assertEquals([pub.status, pub.json.code], [403, "UNAUTHORIZED_ROLE"], pub.text);
        const wrong = await api.get("/clients", { as: { key: BOOT_KEY, secret: "nope" } });
        assertEquals([wrong.status, wrong.json.code], [401, "BAD_API_KEY_OR_SECRET"], wrong.text);
        const denied = await api.get("/api_key", { as: boot });
        assertEquals([denied.status, denied.json.code], [401, "API_KEY_NOT_ALLOW"], denied.text);
      });

      await api.asAdmin();

      await t.step("API keys: create shows the secret once; disable, delete, 404", async () => {
        const c = await api.post("/api_key", { name: `k-${tag}`, desc: "test" });
        assertEquals(c.status, 200, c.text);
        const key = { key: c.json.api_key as string, secret: c.json.api_secret as string };
        assertEquals((await api.get("/stats", { as: key })).status, 200, "new key works");
        const list = await api.get("/api_key");
        const mine = list.json.find((k: { name: string }) => k.name === `k-${tag}`);
        assert(mine && !("api_secret" in mine), "listed without its secret");
        assertEquals((await api.post("/api_key", { name: `k-${tag}` })).status, 400, "dup name");
        const bad = await api.post("/api_key", { name: "bad name!" });
        assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
        assert(bad.json.message.startsWith("name:"), bad.json.message);
        const off = await api.put(`/api_key/k-${tag}`, { enable: false });
        assertEquals([off.status, off.json.enable], [200, false], off.text);
        assertEquals((await api.get("/stats", { as: key })).status, 401, "disabled key");
        assertEquals((await api.delete(`/api_key/k-${tag}`)).status, 204, "delete");
        assertEquals((await api.get(`/api_key/k-${tag}`)).status, 404, "gone");
        assertEquals((await api.delete(`/api_key/k-${tag}`)).status, 404, "delete twice");
      });

      const subs = await Promise.all(
        [0, 1, 2].map((i) =>
          connect(broker.url, { protocolVersion: 5, clientId: `s24-${tag}-${i}` })
        ),
      );
      try {
        await t.step("GET /subscriptions filters and pages; GET /topics", async () => {
          for (const [i, c] of subs.entries()) {
            await subscribe(c, `t24r/${tag}/${i}/#`, { qos: 1 });
            await subscribe(c, `t24r/${tag}/all`, { qos: 0 });
          }
          await subscribe(subs[0]!, `$share/g${tag}/t24r/${tag}/shared`, { qos: 0 });
          const one = await api.get(`/subscriptions?clientid=s24-${tag}-1`);
          assertEquals(one.json.meta.count, 2, one.text);
          const q1 = await api.get(`/subscriptions?topic=t24r/${tag}/all&limit=2`);
          assertEquals([q1.json.meta.count, q1.json.data.length, q1.json.meta.hasnext], [
            3,
            2,
            true,
          ], q1.text);
          const page2 = await api.get(`/subscriptions?topic=t24r/${tag}/all&limit=2&page=2`);
          assertEquals([page2.json.data.length, page2.json.meta.hasnext], [1, false], page2.text);
          const qos1 = await api.get(`/subscriptions?qos=1&match_topic=t24r/${tag}/2/x`);
          assertEquals(qos1.json.data.map((s: { clientid: string }) => s.clientid), [
            `s24-${tag}-2`,
          ], qos1.text);
          const shared = await api.get(`/subscriptions?share_group=g${tag}`);
          assertEquals(shared.json.meta.count, 1, shared.text);
          const badQos = await api.get("/subscriptions?qos=3");
          assertEquals([badQos.status, badQos.json.code], [400, "BAD_REQUEST"], badQos.text);
          const topics = await api.get(`/topics?topic=t24r/${tag}/all`);
          assertEquals(
            topics.json.data,
            [{ topic: `t24r/${tag}/all`, node: "culex@127.0.0.1" }],
            topics.text,
          );
          const t1 = await api.get(`/topics/${encodeURIComponent(`t24r/${tag}/0/#`)}`);
          assertEquals(t1.status, 200, t1.text);
          const t404 = await api.get(`/topics/${encodeURIComponent(`none/${tag}`)}`);
          assertEquals([t404.status, t404.json.code], [404, "TOPIC_NOT_FOUND"], t404.text);
        });

        await t.step("retained messages: list, read with payload, delete, 404", async () => {
          const pub = await connect(broker.url, { protocolVersion: 5, clientId: `p24-${tag}` });
          try {
            for (const i of [1, 2, 3]) {
              await publish(pub, `r24/${tag}/${i}`, `v${i}`, { qos: 1, retain: true });
            }
          } finally {
            await closeAll([pub]);
          }
          const cfg = await api.get("/mqtt/retainer");
          assertEquals(cfg.json.backend.type, "built_in_database", cfg.text);
          const list = await api.get(`/mqtt/retainer/messages?limit=2`);
          assertEquals(list.status, 200, list.text);
          assert(list.json.meta.count >= 3 && list.json.data.length === 2, list.text);
          const topic = encodeURIComponent(`r24/${tag}/2`);
          const one = await api.get(`/mqtt/retainer/message/${topic}`);
          assertEquals(one.status, 200, one.text);
          assertEquals([one.json.topic, atob(one.json.payload), one.json.qos], [
            `r24/${tag}/2`,
            "v2",
            1,
          ], one.text);
          assertEquals(one.json.from_clientid, `p24-${tag}`, "from_clientid");
          assertEquals((await api.delete(`/mqtt/retainer/message/${topic}`)).status, 204, "del");
          const gone = await api.get(`/mqtt/retainer/message/${topic}`);
          assertEquals(gone.status, 404, gone.text);
          assertEquals(
            gone.json,
            { code: "NOT_FOUND", message: "Viewed message doesn't exist" },
            "404",
          );
          assertEquals((await api.delete(`/mqtt/retainer/message/${topic}`)).status, 404, "twice");
        });

        await t.step(
          "bans: adding one kicks the client; duplicates, filters, delete, clear",
          async () => {
            const victim = subs[2]!;
            const r = await api.post("/banned", {
              as: "clientid",
              who: `s24-${tag}-2`,
              reason: "test",
            });
            assertEquals(r.status, 200, r.text);
            assertEquals(
              [r.json.as, r.json.by, r.json.until],
              ["clientid", "mgmt_api", "infinity"],
              r.text,
            );
            await waitClosed(victim, 5000);
            const dup = await api.post("/banned", { as: "clientid", who: `s24-${tag}-2` });
            assertEquals([dup.status, dup.json.code], [400, "ALREADY_EXISTS"], dup.text);
            const net = await api.post("/banned", { as: "peerhost_net", who: "198.51.100.0/24" });
            assertEquals(net.status, 200, net.text);
            const badNet = await api.post("/banned", { as: "peerhost_net", who: "nonsense" });
            assertEquals([badNet.status, badNet.json.code], [400, "BAD_REQUEST"], badNet.text);
            const badAs = await api.post("/banned", { as: "ip", who: "1.2.3.4" });
            assertEquals([badAs.status, badAs.json.code], [400, "BAD_REQUEST"], badAs.text);
            assert(badAs.json.message.startsWith("as:"), badAs.json.message);
            const past = await api.post("/banned", { as: "username", who: "u", until: 1000 });
            assertEquals(past.status, 400, past.text);
            const byId = await api.get(`/banned?clientid=s24-${tag}-2`);
            assertEquals(byId.json.meta.count, 1, byId.text);
            const two = await api.get(`/banned?clientid=a&username=b`);
            assertEquals(two.status, 400, "at most one filter");
            const all = await api.get("/banned?limit=1");
            assertEquals([all.json.meta.count, all.json.data.length, all.json.meta.hasnext], [
              2,
              1,
              true,
            ], all.text);
            const again = await connect(broker.url, {
              protocolVersion: 5,
              clientId: `s24-${tag}-2`,
            }).then(() => "connected", (e: Error) => e.message);
            assert(again !== "connected", "a banned client id cannot connect");
            const del = await api.delete(`/banned/clientid/s24-${tag}-2`);
            assertEquals(del.status, 204, del.text);
            const del404 = await api.delete(`/banned/clientid/s24-${tag}-2`);
            assertEquals(del404.status, 404, del404.text);
            assertEquals((await api.delete("/banned")).status, 204, "clear");
            assertEquals((await api.get("/banned")).json.meta.count, 0, "cleared");
          },
        );

        await t.step("stats, metrics, nodes, listeners, configs", async () => {
          const s = await api.get("/stats?aggregate=true");
          assert(s.json["connections.count"] >= 2, s.text);
          const perNode = await api.get("/stats");
          assertEquals(perNode.json[0].node, "culex@127.0.0.1", perNode.text);
          const m = await api.get("/metrics?aggregate=true");
          assert(m.json["messages.received"] >= 3, m.text);
          assertEquals((await api.get("/metrics?node=other@host")).status, 404, "unknown node");
          const nodes = await api.get("/nodes");
          assertEquals([nodes.json[0].node, nodes.json[0].node_status], [
            "culex@127.0.0.1",
            "running",
          ], nodes.text);
          assertEquals((await api.get("/nodes/culex@127.0.0.1")).status, 200, "one node");
          assertEquals((await api.get("/nodes/x@y")).status, 404, "unknown node");
          const ls = await api.get("/listeners");
          const tcp = ls.json.find((l: { id: string }) => l.id === "tcp:default");
          assertEquals(
            [tcp.type, tcp.running, tcp.bind],
            ["tcp", true, `127.0.0.1:${broker.port}`],
            ls.text,
          );
          assert(tcp.current_connections >= 2, ls.text);
          const cfg = await api.get("/configs");
          assertEquals(cfg.json.mqtt.max_inflight, 32, "EMQX key names");
          assertEquals(cfg.json.dashboard.default_password, "******", "secrets masked");
          const put = await api.put("/configs", {
            mqtt: { max_inflight: 64 },
            listeners: { tcp: { default: { max_connections: 10 } } },
          });
          assertEquals(put.status, 200, put.text);
          // The default ACL file is re-read on every reload, so it is reported too.
          assert(put.json.applied.includes("mqtt.max_inflight"), put.text);
          assertEquals(
            put.json.restart_required,
            ["listeners.tcp.default.max_connections"],
            "restart",
          );
          assertEquals((await api.get("/configs")).json.mqtt.max_inflight, 64, "in effect");
          const bad = await api.put("/configs", { mqtt: { max_inflight: "many" } });
          assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
          assert(bad.json.message.includes("mqtt.max_inflight"), bad.json.message);
          const unknown = await api.put("/configs", { mqtt: { max_inflite: 1 } });
          assertEquals(unknown.status, 400, unknown.text);
          assertEquals((await api.get("/configs")).json.mqtt.max_inflight, 64, "unchanged");
        });

        await t.step("/prometheus/stats parses as Prometheus text with EMQX's names", async () => {
          const r = await api.get("/prometheus/stats", { as: null });
          assertEquals(r.status, 200, r.text);
          assert(r.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"), "type");
          // The grammar, line by line (text format 0.0.4): TYPE lines, then samples.
          for (const line of r.text.trimEnd().split("\n")) {
            assert(
              /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge)$/.test(line) ||
                /^[a-zA-Z_:][a-zA-Z0-9_:]* -?\d+(\.\d+)?(e[+-]?\d+)?$/.test(line),
              `bad line: ${line}`,
            );
          }
          const families = parsePrometheus(r.text) as {
            name: string;
            type: string;
            metrics: { value: string }[];
          }[];
          const by = new Map(families.map((f) => [f.name, f]));
          for (
            const name of ["emqx_connections_count", "emqx_topics_count", "emqx_retained_count"]
          ) {
            assertEquals(by.get(name)?.type, "GAUGE", name);
          }
          for (
            const name of [
              "emqx_messages_received",
              "emqx_messages_qos1_received",
              "emqx_bytes_received",
            ]
          ) {
            assertEquals(by.get(name)?.type, "COUNTER", name);
          }
          assert(Number(by.get("emqx_connections_count")!.metrics[0]!.value) >= 2, "connections");
          const j = await api.get("/prometheus/stats", {
            as: null,
            headers: { accept: "application/json" },
          });
          assert(j.json.emqx_connections_count >= 2, j.text);
        });

        await t.step("an API publish reaches MQTT subscribers with its properties", async () => {
          const r = await api.post("/publish", {
            topic: `t24r/${tag}/all`,
            payload: "hi",
            qos: 1,
            properties: { user_properties: { k: "v" }, content_type: "text/plain" },
          });
          assertEquals(r.status, 200, r.text);
          const got = await collect(subs[0]!, 1, 5000);
          assertEquals(got[0]!.payload, "hi", "payload");
          assertEquals(got[0]!.packet.properties?.contentType, "text/plain", "content type");
          assertEquals(got[0]!.packet.properties?.userProperties, { k: "v" }, "user properties");
        });
      } finally {
        await closeAll(subs);
      }
    });
  } finally {
    await Deno.remove(keyDir, { recursive: true });
  }
});
