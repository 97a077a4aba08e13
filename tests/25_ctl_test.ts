/**
 * `culex ctl` against a running broker with real MQTT clients (npm:mqtt, mosquitto_pub): every
 * command's text compared with EMQX's format (apps/emqx_management/src/emqx_mgmt_cli.erl,
 * shared/EMQX-NAMES.md section 8), fields that vary (ports, times) matched by pattern only.
 * `ping` and `pid` too. One broker for the file; ctl runs as a real `culex` process.
 */

import assert from "node:assert/strict";
import type mqtt from "mqtt";
import { startBroker } from "./_helpers/broker.ts";
import { closeAll, connect, publish, subscribe } from "./_helpers/clients.ts";
import { ctl, culex } from "./_helpers/culex_cli.ts";

const NODE = "culex@127.0.0.1";
const TS = String.raw`\d{13}`;

/** Runs mosquitto_pub once (a client nobody here wrote). */
async function mosquittoPub(port: number, args: string[]): Promise<void> {
  const r = await new Deno.Command("mosquitto_pub", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

Deno.test("culex ctl answers in EMQX's text with real clients connected", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "culex_ctl_" });
  // No $SYS rounds: their retained version/sysdescr would change the retained counts below.
  const broker = await startBroker({
    shards: 2,
    dataDir,
    listeners: ["http:dashboard"],
    sets: ["sys_topics.sys_msg_interval=0"],
  });
  const clients: mqtt.MqttClient[] = [];
  try {
    await t.step("ping answers pong, pid the broker's process id", async () => {
      const ping = await culex(dataDir, ["ping"]);
      assert.deepEqual([ping.code, ping.stdout], [0, "pong\n"]);
      const pid = await culex(dataDir, ["pid"]);
      assert.deepEqual([pid.code, pid.stdout], [0, `${broker.pid}\n`]);
    });

    await t.step("status, broker, cluster status", async () => {
      assert.equal(await ctl(dataDir, "status"), `Node '${NODE}' 0.1.0 is started\n`);
      assert.match(
        await ctl(dataDir, "broker"),
        /^sysdescr {2}: Culex\nversion {3}: 0\.1\.0\ndatetime {2}: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\nuptime {4}: (\d+ (days|hours|minutes|seconds)(, )?)+\n$/,
      );
      assert.equal(
        await ctl(dataDir, "cluster", "status"),
        `Cluster status: #{running_nodes => ['${NODE}'],stopped_nodes => []}\n`,
      );
    });

    await t.step("empty node: No clients. No subscriptions. No topics.", async () => {
      assert.equal(await ctl(dataDir, "clients", "list"), "No clients.\n");
      assert.equal(await ctl(dataDir, "subscriptions", "list"), "No subscriptions.\n");
      assert.equal(await ctl(dataDir, "topics", "list"), "No topics.\n");
      assert.equal(await ctl(dataDir, "clients", "show", "nobody"), "Not Found.\n");
      assert.equal(await ctl(dataDir, "retainer", "info"), "Number of retained messages: 0\n");
    });

    const a = await connect(broker.url, {
      clientId: "ctl-a",
      username: "alice",
      protocolVersion: 5,
      keepalive: 30,
      properties: { sessionExpiryInterval: 60 },
    });
    clients.push(a);
    await subscribe(a, "t/1", { qos: 1 });
    await subscribe(a, "t/+", { qos: 0, nl: true, rh: 2 });
    await mosquittoPub(broker.port, ["-t", "keep/me", "-m", "x", "-r", "-q", "1"]);
    await mosquittoPub(broker.port, ["-t", "keep/too", "-m", "y", "-r"]);
    await publish(a, "t/1", "one", { qos: 1 });

    await t.step("clients list|show: one Client(...) line", async () => {
      const port = (a.stream as unknown as { localPort: number }).localPort;
      const line = new RegExp(
        `^Client\\(ctl-a, username=alice, peername=127\\.0\\.0\\.1:${port}, clean_start=true, ` +
          `keepalive=30, session_expiry_interval=60, subscriptions=2, inflight=0, ` +
          `awaiting_rel=0, delivered_msgs=\\d+, enqueued_msgs=0, dropped_msgs=0, ` +
          `connected=true, created_at=${TS}, connected_at=${TS}\\)\\n$`,
      );
      assert.match(await ctl(dataDir, "clients", "show", "ctl-a"), line);
      assert.match(await ctl(dataDir, "clients", "list"), line);
    });

    await t.step("subscriptions list|show|add|del", async () => {
      const subs = [
        "ctl-a -> topic:t/1 qos:1 nl:0 rh:0 rap:0",
        "ctl-a -> topic:t/+ qos:0 nl:1 rh:2 rap:0",
      ];
      assert.equal(await ctl(dataDir, "subscriptions", "show", "ctl-a"), subs.join("\n") + "\n");
      assert.equal(await ctl(dataDir, "subscriptions", "list"), subs.join("\n") + "\n");
      assert.equal(await ctl(dataDir, "subscriptions", "add", "ctl-a", "x/y", "1"), "ok\n");
      assert.equal(await ctl(dataDir, "subscriptions", "del", "ctl-a", "t/1"), "ok\n");
      assert.equal(
        await ctl(dataDir, "subscriptions", "show", "ctl-a"),
        "ctl-a -> topic:t/+ qos:0 nl:1 rh:2 rap:0\nctl-a -> topic:x/y qos:1 nl:0 rh:0 rap:0\n",
      );
      const missing = await culex(dataDir, ["ctl", "subscriptions", "add", "ghost", "a", "0"]);
      assert.deepEqual([missing.code, missing.stderr], [1, "Error: Channel not found!\n"]);
      const badQos = await culex(dataDir, ["ctl", "subscriptions", "add", "ctl-a", "a", "3"]);
      assert.equal(badQos.stderr, "QoS should be 0, 1, 2\n");
    });

    await t.step("topics list|show", async () => {
      const list = (await ctl(dataDir, "topics", "list")).trimEnd().split("\n").sort();
      assert.deepEqual(list, [`t/+ -> ${NODE}`, `x/y -> ${NODE}`]);
      assert.equal(await ctl(dataDir, "topics", "show", "x/y"), `x/y -> ${NODE}\n`);
      assert.equal(await ctl(dataDir, "topics", "show", "none"), "");
    });

    await t.step("retainer info|topics|clean", async () => {
      assert.equal(await ctl(dataDir, "retainer", "info"), "Number of retained messages: 2\n");
      const [head, ...topics] = (await ctl(dataDir, "retainer", "topics")).trimEnd().split("\n");
      assert.equal(head, "Number of retained messages: 2");
      assert.deepEqual(topics.sort(), ["keep/me", "keep/too"]);
      const one = (await ctl(dataDir, "retainer", "topics", "1", "1")).trimEnd().split("\n");
      assert.equal(one.length, 2);
      assert.equal(await ctl(dataDir, "retainer", "clean", "keep/me"), "");
      assert.equal(await ctl(dataDir, "retainer", "info"), "Number of retained messages: 1\n");
      assert.equal(await ctl(dataDir, "retainer", "clean"), "");
      assert.equal(await ctl(dataDir, "retainer", "info"), "Number of retained messages: 0\n");
    });

    await t.step("broker stats and metrics: sorted `~-30s: ~w` lines", async () => {
      const stats = await ctl(dataDir, "broker", "stats");
      assert.match(stats, /^connections\.count {13}: 1$/m);
      assert.match(stats, /^subscriptions\.count {11}: 2$/m);
      const names = stats.trimEnd().split("\n").map((l) => l.slice(0, 30).trimEnd());
      assert.deepEqual(names, [...names].sort());
      const metrics = await ctl(dataDir, "broker", "metrics");
      assert.match(metrics, /^messages\.received {13}: \d+$/m);
      for (const l of metrics.trimEnd().split("\n")) assert.match(l, /^.{30}: \d+$/);
    });

    await t.step("listeners", async () => {
      assert.equal(
        await ctl(dataDir, "listeners"),
        [
          "tcp:default",
          `  listen_on       : 127.0.0.1:${broker.port}`,
          "  acceptors       : 1",
          "  proxy_protocol  : false",
          "  enbale          : true",
          "  running         : true",
          "  current_conn    : 1",
          "  max_conns       : 100000",
          "  shutdown_count  : []",
          "",
        ].join("\n"),
      );
    });

    await t.step("banned add|list|del (Culex's own)", async () => {
      assert.equal(await ctl(dataDir, "banned", "list"), "No bans.\n");
      assert.equal(await ctl(dataDir, "banned", "add", "clientid", "evil", "spam"), "ok\n");
      assert.match(
        await ctl(dataDir, "banned", "list"),
        /^Banned\(as=clientid, who=evil, by=culex_ctl, reason="spam", at=\S+Z, until=infinity\)\n$/,
      );
      // A banned client id is refused at CONNECT: CONNACK 0x8A Banned (MQTT 5, 3.2.2.2).
      await assert.rejects(connect(broker.url, { clientId: "evil", protocolVersion: 5 }));
      assert.equal(await ctl(dataDir, "banned", "del", "clientid", "evil"), "ok\n");
      const again = await culex(dataDir, ["ctl", "banned", "del", "clientid", "evil"]);
      assert.deepEqual([again.code, again.stderr], [1, "Not Found.\n"]);
    });

    await t.step("clients kick: ok, and the client is gone", async () => {
      assert.equal(await ctl(dataDir, "clients", "kick", "ctl-a"), "ok\n");
      assert.equal(await ctl(dataDir, "clients", "show", "ctl-a"), "Not Found.\n");
      assert.equal(await ctl(dataDir, "clients", "kick", "ctl-a"), "ok\n");
    });

    await t.step("admins passwd resets a dashboard password (HTTP API login)", async () => {
      const port = broker.portOf("http:dashboard");
      const login = async (password: string) => {
        const r = await fetch(`http://127.0.0.1:${port}/api/v5/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "admin", password }),
        });
        await r.body?.cancel();
        return r.status;
      };
      assert.equal(await ctl(dataDir, "admins", "passwd", "admin", "Ctl-secret-1"), "ok\n");
      assert.equal(await login("Ctl-secret-1"), 200);
      assert.equal(await login("public"), 401);
      const weak = await culex(dataDir, ["ctl", "admins", "passwd", "admin", "short"]);
      assert.deepEqual([weak.code, weak.stderr], [
        1,
        "Error: The range of password length is 8~64\n",
      ]);
      const nobody = await culex(dataDir, ["ctl", "admins", "passwd", "nobody", "Ctl-secret-1"]);
      assert.equal(nobody.stderr, "Error: username_not_found\n");
    });

    await t.step("an unknown command prints the usage and exits 1", async () => {
      const r = await culex(dataDir, ["ctl", "clients", "frobnicate"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^clients list {36}# List all clients$/m);
    });

    await t.step("the socket and the cookie are the owner's only (mode 0600)", async () => {
      assert.equal((await Deno.stat(`${dataDir}/culex.sock`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dataDir}/culex.cookie`)).mode! & 0o777, 0o600);
    });
  } finally {
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
