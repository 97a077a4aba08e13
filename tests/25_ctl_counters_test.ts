/**
 * Issue 14's operations, second part (counters), against one running broker with real MQTT
 * clients (npm:mqtt): per-client counters in GET /clients[/{id}] and `ctl clients show`, a
 * disconnected persistent client's last facts, `.max` stats keeping the peak (/stats, `ctl broker
 * stats`, Prometheus), and `culex ctl admins add|passwd|del` (emqx_dashboard_cli.erl) checked
 * through the HTTP API's login. Listeners stopped and started: 25_ctl_ops2_test.ts.
 */

import assert from "node:assert/strict";
import type mqtt from "mqtt";
import { type Api, withApiBroker } from "./_helpers/api.ts";
import { closeAll, connect, publish, subscribe, takeMatching } from "./_helpers/clients.ts";
import { ctl, culex } from "./_helpers/culex_cli.ts";

/** The status of a login over the HTTP API. */
async function loginStatus(api: Api, username: string, password: string): Promise<number> {
  return (await api.post("/login", { username, password }, { as: null })).status;
}

Deno.test("ctl and API: per-client counters, stats peaks, dashboard admins from the shell", async (t) => {
  await withApiBroker(
    { shards: 2, sets: ["sys_topics.sys_msg_interval=0"] },
    async ({ broker, api, dataDir }) => {
      const clients: mqtt.MqttClient[] = [];
      await api.asAdmin();
      try {
        await t.step("per-client counters: GET /clients[/{id}] and ctl clients show", async () => {
          // Maximum Packet Size 64 (MQTT 5, 3.1.2.11.4): a bigger delivery is dropped for this
          // client alone [MQTT-3.1.2-25] and counted as send_msg.dropped.too_large.
          const c = await connect(broker.url, {
            clientId: "ops2-ctr",
            protocolVersion: 5,
            properties: { maximumPacketSize: 64 },
          });
          clients.push(c);
          await subscribe(c, "ctr/#", { qos: 1 });
          for (const qos of [0, 1, 2] as const) await publish(c, "ctr/x", `m${qos}`, { qos });
          for (const qos of [0, 1, 2]) {
            await takeMatching(c, (m) => m.payload === `m${qos}`, 10_000);
          }
          await publish(c, "ctr/big", "x".repeat(100), { qos: 1 });
          await publish(c, "nobody/here", "lost", { qos: 1 });
          // The big one's drop happened before the PUBACK of the next publish went out.
          const one = (await api.get("/clients/ops2-ctr")).json;
          const pick = (keys: string[]) => keys.map((k) => [k, one[k]]);
          assert.deepEqual(
            pick([
              "recv_msg",
              "recv_msg.qos0",
              "recv_msg.qos1",
              "recv_msg.qos2",
              "recv_msg.dropped",
              "send_msg",
              "send_msg.qos0",
              "send_msg.qos1",
              "send_msg.qos2",
              "send_msg.dropped",
              "send_msg.dropped.too_large",
              "send_msg.dropped.expired",
              "send_msg.dropped.queue_full",
              "mqueue_dropped",
              "mqueue_len",
              "inflight_cnt",
            ]),
            [
              ["recv_msg", 5],
              ["recv_msg.qos0", 1],
              ["recv_msg.qos1", 3],
              ["recv_msg.qos2", 1],
              ["recv_msg.dropped", 1],
              ["send_msg", 3],
              ["send_msg.qos0", 1],
              ["send_msg.qos1", 2],
              ["send_msg.qos2", 0],
              ["send_msg.dropped", 1],
              ["send_msg.dropped.too_large", 1],
              ["send_msg.dropped.expired", 0],
              ["send_msg.dropped.queue_full", 0],
              ["mqueue_dropped", 0],
              ["mqueue_len", 0],
              ["inflight_cnt", 0],
            ],
          );
          // CONNECT, SUBSCRIBE, 5 PUBLISH, PUBREL, PUBACK x2 at least; CONNACK, SUBACK, ...
          assert.ok(one.recv_pkt >= 10 && one.send_pkt >= 10, JSON.stringify(one));
          assert.ok(one.recv_oct > 100 && one.send_oct > 30 && one.recv_cnt >= 1);
          assert.equal(one.send_cnt, one.send_pkt);
          const list = await api.get(
            "/clients?clientid=ops2-ctr&fields=clientid,send_msg,recv_oct",
          );
          assert.deepEqual(list.json.data, [{
            clientid: "ops2-ctr",
            send_msg: 3,
            recv_oct: one.recv_oct,
          }]);
          assert.match(
            await ctl(dataDir, "clients", "show", "ops2-ctr"),
            /, delivered_msgs=3, enqueued_msgs=0, dropped_msgs=0, /,
          );
        });

        await t.step(
          "a disconnected persistent client keeps its last connection's facts and counters (EMQX keeps its channel info)",
          async () => {
            const c = await connect(broker.url, {
              clientId: "ops2-gone",
              username: "ops2-user",
              protocolVersion: 5,
              clean: false,
              properties: { sessionExpiryInterval: 600 },
            });
            await publish(c, "nobody/gone", "a", { qos: 1 });
            await publish(c, "nobody/gone", "b", { qos: 0 });
            await closeAll([c]);
            let one: Record<string, unknown> = {};
            for (let i = 0; i < 50; i++) { // the shard learns of the close after the client does
              one = (await api.get("/clients/ops2-gone")).json;
              if (one.connected === false) break;
              await new Promise((r) => setTimeout(r, 100));
            }
            const pick = (keys: string[]) => keys.map((k) => [k, one[k]]);
            assert.deepEqual(
              pick([
                "connected",
                "username",
                "proto_ver",
                "clean_start",
                "recv_msg",
                "recv_msg.qos1",
              ]),
              [
                ["connected", false],
                ["username", "ops2-user"],
                ["proto_ver", 5],
                ["clean_start", false],
                ["recv_msg", 2],
                ["recv_msg.qos1", 1],
              ],
            );
            assert.equal(one.ip_address, "127.0.0.1");
            assert.notEqual(one.disconnected_at, null);
            const found = await api.get("/clients?username=ops2-user&conn_state=disconnected");
            assert.deepEqual(found.json.data.map((x: { clientid: string }) => x.clientid), [
              "ops2-gone",
            ]);
          },
        );

        await t.step(".max stats keep the peak: /stats, ctl broker stats, Prometheus", async () => {
          const stats = async () => (await api.get("/stats?aggregate=true")).json;
          const x = await connect(broker.url, { clientId: "ops2-x", protocolVersion: 4 });
          const y = await connect(broker.url, { clientId: "ops2-y", protocolVersion: 4 });
          const high = await stats();
          for (
            const name of ["connections", "live_connections", "sessions", "subscriptions", "topics"]
          ) {
            assert.ok(
              high[`${name}.max`] >= high[`${name}.count`],
              `${name}: ${JSON.stringify(high)}`,
            );
          }
          assert.ok(high["connections.count"] >= 3 && "retained.max" in high);
          // Two clients go: the counts drop, the marks stay.
          await closeAll([x, y]);
          let low = await stats();
          for (
            let i = 0;
            i < 100 && low["connections.count"] > high["connections.count"] - 2;
            i++
          ) {
            await new Promise((r) => setTimeout(r, 50));
            low = await stats();
          }
          assert.equal(low["connections.count"], high["connections.count"] - 2);
          assert.ok(low["connections.max"] >= high["connections.count"]);
          assert.ok(low["sessions.max"] >= high["sessions.count"]);
          const text = await ctl(dataDir, "broker", "stats");
          assert.match(
            text,
            new RegExp(`^connections\\.max {15}: ${low["connections.max"]}$`, "m"),
          );
          const prom = (await api.get("/prometheus/stats", { as: null })).text;
          assert.match(prom, /^# TYPE emqx_connections_max gauge\nemqx_connections_max \d+$/m);
          assert.match(prom, /^emqx_retained_max \d+$/m);
        });

        await t.step("ctl admins add|passwd|del, checked by logging in over the API", async () => {
          const secret = "Ops2-secret-1";
          assert.equal(
            await ctl(dataDir, "admins", "add", "ops2user", secret, "Night shift"),
            "ok\n",
          );
          assert.equal(await loginStatus(api, "ops2user", secret), 200);
          const users = (await api.get("/users")).json as { username: string }[];
          assert.deepEqual(users.find((u) => u.username === "ops2user"), {
            username: "ops2user",
            role: "administrator",
            description: "Night shift",
            backend: "local",
          });
          const runs = [
            await culex(dataDir, ["ctl", "admins", "add", "ops2user", secret]),
            await culex(dataDir, ["ctl", "admins", "add", "bad user", secret]),
            await culex(dataDir, ["ctl", "admins", "add", "weak", "short"]),
          ];
          assert.deepEqual(runs.map((r) => [r.code, r.stderr]), [
            [1, "Error: username_already_exists\n"],
            [1, "Error: Bad Username. Only 1-64 letters, digits or _.@- are supported\n"],
            [1, "Error: The range of password length is 8~64\n"],
          ]);
          // passwd: the old password and every token of the user stop working.
          const token = await api.login("ops2user", secret);
          const next = "Ops2-secret-2";
          assert.equal(await ctl(dataDir, "admins", "passwd", "ops2user", next), "ok\n");
          assert.equal((await api.get("/users", { as: { token } })).status, 401);
          assert.equal(await loginStatus(api, "ops2user", secret), 401);
          assert.equal(await loginStatus(api, "ops2user", next), 200);
          assert.equal(await ctl(dataDir, "admins", "del", "ops2user"), "ok\n");
          assert.equal(await loginStatus(api, "ops2user", next), 401);
          const gone = await culex(dataDir, ["ctl", "admins", "del", "ops2user"]);
          assert.deepEqual([gone.code, gone.stderr], [1, "Error: username_not_found\n"]);
          const usage = await culex(dataDir, ["ctl", "admins"]);
          assert.match(usage.stderr, /^admins del <Username> {27}# Delete dashboard user$/m);
          // Secrets are never printed nor logged.
          for (const r of [...runs, gone, usage]) {
            assert.ok(!`${r.stdout}${r.stderr}`.includes(secret));
          }
          assert.ok(!broker.logs().includes(secret) && !broker.logs().includes(next));
        });
      } finally {
        await closeAll(clients);
      }
    },
  );
});
