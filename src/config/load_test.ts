/**
 * Unit tests for src/config/: defaults, precedence, units, data_dir and the durable/retainer
 * keys. The text of each error kind is in load_errors_test.ts. Touches only temp files it
 * creates and removes; never the real environment.
 */

import assert from "node:assert/strict";
import { configSchema, loadConfig, parseDuration, parseSize } from "./mod.ts";
import { assertEquals, assertMatch, configError, withFile } from "./_test_util.ts";

Deno.test("loadConfig() returns the documented defaults when given nothing", () => {
  const c = loadConfig();
  assertEquals(c.node.name, "culex@127.0.0.1");
  assertEquals(c.node.shards, Math.max(1, navigator.hardwareConcurrency));
  assertEquals(c.log, {
    level: "info",
    format: "text",
    console: { enable: true, level: "info" },
    file: {
      enable: false,
      level: "info",
      path: `${Deno.cwd()}/log/culex.log`,
      rotationSize: 50 * 1024 * 1024,
      rotationCount: 10,
    },
  });
  assertEquals(c.listeners.tcp, {
    default: {
      enable: true,
      bind: "0.0.0.0:1883",
      host: "0.0.0.0",
      port: 1883,
      maxConnections: 100_000,
      maxConnRate: 0,
      backlog: 1024,
      zone: "default",
      enableAuthn: true,
      accessRules: [{ action: "allow", text: "allow all", cidr: "all" }],
      proxyProtocol: false,
      proxyProtocolTimeout: 3000,
      messagesRate: null,
      bytesRate: null,
    },
  });
  assertEquals([c.listeners.ssl, c.listeners.ws, c.listeners.wss], [{}, {}, {}]);
  assertEquals(c.mqtt.maxPacketSize, 1024 * 1024);
  assertEquals(c.mqtt.idleTimeout, 15_000);
  assertEquals(c.mqtt.sessionExpiryInterval, 2 * 3600 * 1000);
  assertEquals(c.mqtt.awaitRelTimeout, 300_000);
  assertEquals(c.mqtt.keepaliveMultiplier, 1.5);
  assertEquals(c.mqtt.maxSubscriptions, 0);
  assertEquals(c.mqtt.mqueueDropPolicy, "drop_oldest");
  assertEquals(c.retainer, {
    enable: true,
    maxRetainedMessages: 100_000,
    maxPayloadSize: 1 << 20,
    storageType: "ram",
    indexSpecs: [[1, 2, 3], [1, 3], [2, 3], [3]],
  });
  assertEquals(c.durableSessions, { enable: false, sync: "normal", maxStoreSize: 0 });
  assertEquals(c.warnings, []);
  assertEquals(c.ipc.ringSize, 4 << 20);
});

Deno.test("loadConfig() returns a deeply frozen Config", () => {
  const c = loadConfig();
  assert(Object.isFrozen(c));
  assert(Object.isFrozen(c.mqtt));
  assert(Object.isFrozen(c.listeners.tcp));
  assert(Object.isFrozen(c.listeners.tcp.default));
});

Deno.test("configSchema defaults equal the embedded config/culex.yaml", () => {
  const fromSchema = configSchema.parse({});
  const fromYaml = loadConfig({ shards: 3 });
  const dataDir = `${Deno.cwd()}/data`;
  const file = { ...fromSchema.log.file, path: `${Deno.cwd()}/log/culex.log` };
  assertEquals(fromYaml, {
    ...fromSchema,
    node: { ...fromSchema.node, shards: 3, dataDir },
    log: { ...fromSchema.log, file },
  });
});

Deno.test("loadConfig() applies a file over the defaults and keeps the rest", () => {
  const yaml = "mqtt:\n  max_inflight: 64\nlisteners:\n  tcp:\n    default:\n      bind: 1884\n" +
    "    internal:\n      bind: '[::1]:11883'\n      max_conn_rate: 500/s\n";
  const c = withFile(yaml, (file) => loadConfig({ file }));
  assertEquals(c.mqtt.maxInflight, 64);
  assertEquals(c.mqtt.maxMqueueLen, 1000);
  assertEquals(c.listeners.tcp.default?.bind, "0.0.0.0:1884");
  assertEquals(c.listeners.tcp.default?.maxConnections, 100_000);
  assertEquals(c.listeners.tcp.internal?.host, "::1");
  assertEquals(c.listeners.tcp.internal?.port, 11883);
  assertEquals(c.listeners.tcp.internal?.maxConnRate, 500);
  assertEquals(c.listeners.tcp.internal?.backlog, 1024);
});

Deno.test("loadConfig() keeps the lower value when a file leaves a key empty", () => {
  const c = withFile("mqtt:\nretainer:\n  enable:\n", (file) => loadConfig({ file }));
  assertEquals(c.mqtt.maxInflight, 32);
  assertEquals(c.retainer.enable, true);
});

Deno.test("loadConfig() lets the environment override the file", () => {
  const c = withFile("mqtt:\n  max_inflight: 64\n  upgrade_qos: true\n", (file) =>
    loadConfig({
      file,
      env: {
        CULEX__MQTT__MAX_INFLIGHT: "128",
        CULEX__LISTENERS__TCP__DEFAULT__BIND: "127.0.0.1:1884",
        CULEX_NOT_OURS: "x",
        PATH: "/bin",
      },
    }));
  assertEquals(c.mqtt.maxInflight, 128);
  assertEquals(c.mqtt.upgradeQos, true);
  assertEquals(c.listeners.tcp.default?.host, "127.0.0.1");
  assertEquals(c.listeners.tcp.default?.port, 1884);
});

Deno.test("loadConfig() lets --set override the environment, and --shards/--node-name --set", () => {
  const c = loadConfig({
    env: { CULEX__MQTT__MAX_INFLIGHT: "128", CULEX__NODE__SHARDS: "2" },
    sets: ["mqtt.max_inflight=256", "node.shards=4", "node.name=a@b", "log.level=debug"],
    shards: 5,
    nodeName: "edge@10.0.0.1",
  });
  assertEquals(c.mqtt.maxInflight, 256);
  assertEquals(c.node, {
    name: "edge@10.0.0.1",
    shards: 5,
    dataDir: `${Deno.cwd()}/data`,
    cookie: "culexsecretcookie",
  });
  assertEquals(c.log.level, "debug");
});

Deno.test("loadConfig() reads flag and env values as YAML scalars", () => {
  const c = loadConfig({
    sets: ["mqtt.upgrade_qos=true", "mqtt.keepalive_multiplier=2.5", "node.name=x@y"],
    env: { CULEX__RETAINER__ENABLE: "false" },
  });
  assertEquals(c.mqtt.upgradeQos, true);
  assertEquals(c.mqtt.keepaliveMultiplier, 2.5);
  assertEquals(c.retainer.enable, false);
});

Deno.test("parseDuration() and parseSize() accept units and plain numbers", () => {
  assertEquals(parseDuration("500ms"), 500);
  assertEquals(parseDuration("15s"), 15_000);
  assertEquals(parseDuration("5m"), 300_000);
  assertEquals(parseDuration("2h"), 7_200_000);
  assertEquals(parseDuration("1d"), 86_400_000);
  assertEquals(parseDuration("1.5s"), 1500);
  assertEquals(parseDuration(250), 250);
  assertEquals(parseDuration("15"), null);
  assertEquals(parseDuration(-1), null);
  assertEquals(parseSize("64KB"), 65_536);
  assertEquals(parseSize("1MB"), 1_048_576);
  assertEquals(parseSize("1GB"), 1_073_741_824);
  assertEquals(parseSize("1mb"), 1_048_576);
  assertEquals(parseSize(1000), 1000);
  assertEquals(parseSize("1.5MB"), null);
});

Deno.test("loadConfig() converts durations, sizes and infinity in the config", () => {
  const c = loadConfig({
    sets: [
      "mqtt.idle_timeout=500ms",
      "mqtt.retry_interval=2000",
      "mqtt.session_expiry_interval=1d",
      "mqtt.max_packet_size=64KB",
      "mqtt.max_subscriptions=10",
      "retainer.backend.max_retained_messages=infinity",
      "ipc.ring_size=1GB",
    ],
  });
  assertEquals(c.mqtt.idleTimeout, 500);
  assertEquals(c.mqtt.retryInterval, 2000);
  assertEquals(c.mqtt.sessionExpiryInterval, 86_400_000);
  assertEquals(c.mqtt.maxPacketSize, 65_536);
  assertEquals(c.mqtt.maxSubscriptions, 10);
  assertEquals(c.retainer.maxRetainedMessages, 0);
  assertEquals(c.ipc.ringSize, 1 << 30);
});

Deno.test("loadConfig() resolves node.data_dir beside the --config file, else the cwd", () => {
  const c = withFile("node:\n  data_dir: store\n", (file) => {
    const got = loadConfig({ file });
    assertEquals(got.node.dataDir, `${file.slice(0, file.lastIndexOf("/"))}/store`);
    return got;
  });
  assertEquals(c.node.dataDir.endsWith("/store"), true);
  assertEquals(
    loadConfig({ sets: ["node.data_dir=/var/lib/culex"] }).node.dataDir,
    "/var/lib/culex",
  );
  assertEquals(loadConfig({ sets: ["node.data_dir=d2"] }).node.dataDir, `${Deno.cwd()}/d2`);
  const e = configError(() => loadConfig({ sets: ["node.data_dir="] }));
  assertEquals(e.key, "node.data_dir");
});

Deno.test("loadConfig() reads durable_sessions and retainer.backend with EMQX's names", () => {
  const yaml = "retainer:\n  backend:\n    index_specs: [[2], [1, 4]]\n";
  const c = withFile(yaml, (file) =>
    loadConfig({
      file,
      sets: [
        "durable_sessions.enable=true",
        "durable_sessions.sync=full",
        "durable_sessions.max_store_size=64MB",
        "retainer.backend.storage_type=disc",
        "retainer.backend.max_retained_messages=5",
      ],
    }));
  assertEquals(c.durableSessions, { enable: true, sync: "full", maxStoreSize: 64 << 20 });
  assertEquals(c.retainer.storageType, "disc");
  assertEquals(c.retainer.maxRetainedMessages, 5);
  assertEquals(c.retainer.indexSpecs, [[2], [1, 4]]);
  assertEquals(c.warnings, []);
  const bad = configError(() => loadConfig({ sets: ["durable_sessions.sync=sometimes"] }));
  assertEquals(bad.key, "durable_sessions.sync");
  const small = configError(() => loadConfig({ sets: ["durable_sessions.max_store_size=1KB"] }));
  assertMatch(small.message, /at least 1MB, or infinity/);
  const specYaml = "retainer:\n  backend:\n    index_specs: [[0, 9]]\n";
  const spec = withFile(specYaml, (file) => configError(() => loadConfig({ file })));
  assertEquals([spec.key, spec.line], ["retainer.backend.index_specs", 3]);
  const storage = configError(() => loadConfig({ sets: ["retainer.backend.storage_type=disk"] }));
  assertMatch(storage.message, /one of "ram", "disc"/);
});

Deno.test("loadConfig() accepts the deprecated retainer.max_retained_messages with a warning", () => {
  const c = withFile(
    "retainer:\n  max_retained_messages: 7\n  backend:\n    max_retained_messages: 9\n",
    (file) => loadConfig({ file }),
  );
  assertEquals(c.retainer.maxRetainedMessages, 7);
  assertEquals(c.warnings.length, 1);
  assertMatch(
    c.warnings[0] ?? "",
    /retainer\.max_retained_messages is deprecated: use retainer\.backend\.max_retained_messages/,
  );
});
