/**
 * Issue 14's operations, second part, against one running broker with two TCP listeners and
 * real MQTT clients (npm:mqtt): `culex ctl listeners stop|start|restart <Id>` and `POST
 * /api/v5/listeners/{id}/stop|start|restart` (EMQX's words, apps/emqx_management/src/
 * emqx_mgmt_cli.erl and emqx_mgmt_api_listeners.erl), stopping one listener without touching
 * the other's connections. Per-client counters, stats peaks and `ctl admins`:
 * 25_ctl_counters_test.ts.
 */

import assert from "node:assert/strict";
import type mqtt from "mqtt";
import { withApiBroker } from "./_helpers/api.ts";
import {
  closeAll,
  connect,
  publish,
  subscribe,
  takeMatching,
  waitClosed,
} from "./_helpers/clients.ts";
import { ctl, culex } from "./_helpers/culex_cli.ts";

/** The port `ctl listeners` shows for listener `id`. */
async function portOf(dataDir: string, id: string): Promise<number> {
  const text = await ctl(dataDir, "listeners");
  const block = text.split(/\n(?=\S)/).find((b) => b.startsWith(`${id}\n`)) ?? "";
  const m = block.match(/listen_on {7}: 127\.0\.0\.1:(\d+)/);
  if (!m) throw new Error(`no listen_on for ${id} in:\n${text}`);
  return Number(m[1]);
}

/** Whether `ctl listeners` shows `id` running. */
async function running(dataDir: string, id: string): Promise<boolean> {
  const text = await ctl(dataDir, "listeners");
  const block = text.split(/\n(?=\S)/).find((b) => b.startsWith(`${id}\n`)) ?? "";
  return /running {9}: true/.test(block);
}

Deno.test("ctl and API: one listener stops and starts", async (t) => {
  await withApiBroker({
    shards: 2,
    listeners: ["tcp:second"],
    sets: [
      "listeners.tcp.second.bind=127.0.0.1:0",
      "listeners.tcp.off.bind=127.0.0.1:0",
      "listeners.tcp.off.enable=false",
      "sys_topics.sys_msg_interval=0",
    ],
  }, async ({ broker, api, dataDir }) => {
    const clients: mqtt.MqttClient[] = [];
    try {
      const second = broker.portOf("tcp:second");
      const a = await connect(broker.url, { clientId: "ops2-a", protocolVersion: 5 });
      const b = await connect(`mqtt://127.0.0.1:${second}`, {
        clientId: "ops2-b",
        protocolVersion: 4,
      });
      clients.push(a, b);
      await subscribe(a, "ops2/t", { qos: 1 });

      await t.step("ctl listeners stop: its clients go, the other listener's stay", async () => {
        assert.equal(
          await ctl(dataDir, "listeners", "stop", "tcp:second"),
          "Stop tcp:second listener successfully.\n",
        );
        await waitClosed(b, 10_000);
        assert.equal(await running(dataDir, "tcp:second"), false);
        assert.equal(await running(dataDir, "tcp:default"), true);
        // The client of tcp:default still publishes and receives.
        await publish(a, "ops2/t", "still here", { qos: 1 });
        await takeMatching(a, (m) => m.topic === "ops2/t", 10_000);
        // Nobody listens on the stopped listener's port any more.
        await assert.rejects(
          connect(`mqtt://127.0.0.1:${second}`, { clientId: "ops2-c", protocolVersion: 4 }),
        );
        const again = await culex(dataDir, ["ctl", "listeners", "stop", "tcp:second"]);
        assert.deepEqual([again.code, again.stderr], [
          1,
          "Failed to stop tcp:second listener: not_found\n",
        ]);
      });

      await t.step("ctl listeners start and restart", async () => {
        assert.equal(
          await ctl(dataDir, "listeners", "start", "tcp:second"),
          "Started tcp:second listener successfully.\n",
        );
        const twice = await culex(dataDir, ["ctl", "listeners", "start", "tcp:second"]);
        assert.deepEqual([twice.code, twice.stderr], [
          1,
          "Failed to start tcp:second listener: already_started\n",
        ]);
        // bind 127.0.0.1:0: a new port at each start, shown by `ctl listeners`.
        const c = await connect(`mqtt://127.0.0.1:${await portOf(dataDir, "tcp:second")}`, {
          clientId: "ops2-c",
          protocolVersion: 4,
        });
        clients.push(c);
        assert.equal(
          await ctl(dataDir, "listeners", "restart", "tcp:second"),
          "Restarted tcp:second listener successfully.\n",
        );
        await waitClosed(c, 10_000);
        assert.equal(await running(dataDir, "tcp:second"), true);
        clients.push(
          await connect(`mqtt://127.0.0.1:${await portOf(dataDir, "tcp:second")}`, {
            clientId: "ops2-d",
            protocolVersion: 4,
          }),
        );
        const bad = await culex(dataDir, ["ctl", "listeners", "stop", "tcp:nope"]);
        assert.deepEqual([bad.code, bad.stderr], [1, 'Invalid listener: "tcp:nope"\n']);
        const usage = await culex(dataDir, ["ctl", "listeners", "pause", "tcp:second"]);
        assert.equal(usage.code, 1);
        assert.match(usage.stderr, /^listeners restart <Identifier> {18}# Restart a listener$/m);
      });

      await api.asAdmin();

      await t.step("POST /listeners/{id}/stop|start|restart", async () => {
        const stop = await api.post("/listeners/tcp:second/stop");
        assert.deepEqual([stop.status, stop.text], [200, ""]);
        const list = await api.get("/listeners");
        const byId = new Map(
          (list.json as { id: string; running: boolean }[]).map((l) => [l.id, l.running]),
        );
        assert.deepEqual([byId.get("tcp:second"), byId.get("tcp:default")], [false, true]);
        // The API sets a wanted state: stopping a stopped listener is no error (as EMQX).
        assert.equal((await api.post("/listeners/tcp:second/stop")).status, 200);
        assert.equal((await api.post("/listeners/tcp%3Asecond/start")).status, 200);
        assert.equal(await running(dataDir, "tcp:second"), true);
        assert.equal((await api.post("/listeners/tcp:second/restart")).status, 200);
        const nope = await api.post("/listeners/tcp:nope/start");
        assert.deepEqual([nope.status, nope.json], [404, {
          code: "BAD_LISTENER_ID",
          message: "Listener id not found",
        }]);
        // A listener disabled in the configuration is listed, and may be started by hand.
        const off = () =>
          api.get("/listeners").then((r) =>
            (r.json as { id: string; enable: boolean; running: boolean }[])
              .find((l) => l.id === "tcp:off")
          );
        const before = await off();
        assert.deepEqual([before?.enable, before?.running], [false, false]);
        assert.equal((await api.post("/listeners/tcp:off/start")).status, 200);
        assert.equal((await off())?.running, true);
        clients.push(
          await connect(`mqtt://127.0.0.1:${await portOf(dataDir, "tcp:off")}`, {
            clientId: "ops2-off",
            protocolVersion: 4,
          }),
        );
        assert.equal(
          await ctl(dataDir, "listeners", "stop", "tcp:off"),
          "Stop tcp:off listener successfully.\n",
        );
        // The client of tcp:default saw none of it.
        await publish(a, "ops2/t", "after", { qos: 1 });
        await takeMatching(a, (m) => m.topic === "ops2/t" && m.payload === "after", 10_000);
      });
    } finally {
      await closeAll(clients);
    }
  });
});
