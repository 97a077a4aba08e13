/**
 * Unit tests for src/config/: the text of every error kind (key, line, expected; the env
 * variable or flag that gave a bad value; YAML syntax, unreadable file, not a mapping) and the
 * bind and ring-size rules. Touches only temp files it creates and removes.
 */

import assert from "node:assert/strict";
import { loadConfig } from "./mod.ts";
import { assertEquals, assertMatch, configError, withFile } from "./_test_util.ts";

Deno.test("loadConfig() names an unknown key and its line in a file", () => {
  const yaml = "node:\n  name: a@b\nmqtt:\n  max_inflight: 8\n  max_inflght: 9\n";
  const e = withFile(yaml, (file) => configError(() => loadConfig({ file })));
  assertEquals(e.key, "mqtt.max_inflght");
  assertEquals(e.line, 5);
  assertMatch(e.message, /^Invalid config: mqtt\.max_inflght at .*\.yaml line 5: /);
  assertMatch(e.expected, /did you mean "max_inflight"/);
});

Deno.test("loadConfig() names an unknown top-level key on its own line", () => {
  const e = withFile(
    "# comment\n\nmqqt:\n  x: 1\n",
    (file) => configError(() => loadConfig({ file })),
  );
  assertEquals(e.key, "mqqt");
  assertEquals(e.line, 3);
});

Deno.test("loadConfig() names key, line and expected for a wrong type", () => {
  const yaml = "mqtt:\n  max_inflight: 8\n  retain_available: maybe\n";
  const e = withFile(yaml, (file) => configError(() => loadConfig({ file })));
  assertEquals(e.key, "mqtt.retain_available");
  assertEquals(e.line, 3);
  assertEquals(e.expected, "true or false");
  assertMatch(e.message, /line 3: expected true or false, got "maybe"$/);

  const e2 = withFile(
    "mqtt:\n\n  max_inflight: lots\n",
    (file) => configError(() => loadConfig({ file })),
  );
  assertEquals([e2.key, e2.line, e2.expected], ["mqtt.max_inflight", 3, "an integer 1-65535"]);
});

Deno.test("loadConfig() names the environment variable or flag that gave a bad value", () => {
  const e = configError(() => loadConfig({ env: { CULEX__MQTT__MAX_INFLIGHT: "0" } }));
  assertEquals([e.key, e.line, e.source], [
    "mqtt.max_inflight",
    null,
    "environment CULEX__MQTT__MAX_INFLIGHT",
  ]);
  assertMatch(
    e.message,
    /from environment CULEX__MQTT__MAX_INFLIGHT: expected an integer 1-65535, got 0$/,
  );

  const f = configError(() => loadConfig({ sets: ["mqtt.max_inflight=abc"] }));
  assertEquals([f.key, f.source], ["mqtt.max_inflight", "flag --set"]);
  assertMatch(f.message, /^Invalid config: mqtt\.max_inflight from flag --set: /);

  const g = configError(() => loadConfig({ sets: ["no-equals-sign"] }));
  assertEquals(g.source, "flag --set");
});

Deno.test("loadConfig() refuses a bind without a valid host:port", () => {
  const yaml = "listeners:\n  tcp:\n    default:\n      bind: abc\n";
  const e = withFile(yaml, (file) => configError(() => loadConfig({ file })));
  assertEquals([e.key, e.line], ["listeners.tcp.default.bind", 4]);
  assertMatch(e.message, /line 4: expected "host:port" with a port 0-65535, got "abc"$/);
  for (const bind of ["1.2.3.4:65536", "1.2.3.4", ":1883", "::1:1883"]) {
    const b = configError(() => loadConfig({ sets: [`listeners.tcp.default.bind=${bind}`] }));
    assertEquals(b.key, "listeners.tcp.default.bind");
  }
  const ok = loadConfig({ sets: ["listeners.tcp.default.bind=127.0.0.1:0"] });
  assertEquals(ok.listeners.tcp.default?.port, 0);
});

Deno.test("loadConfig() requires bind on a listener other than default", () => {
  const e = configError(() => loadConfig({ sets: ["listeners.tcp.extra.enable=true"] }));
  assertEquals(e.key, "listeners.tcp.extra.bind");
  assertMatch(e.message, /got nothing$/);
});

Deno.test("loadConfig() enforces the ipc.ring_size rule", () => {
  const e = configError(() => loadConfig({ sets: ["ipc.ring_size=3000000"] }));
  assertEquals(e.key, "ipc.ring_size");
  assertMatch(e.expected, /power of two, e.g. "4MB"/);
  assertEquals(loadConfig({ sets: ["ipc.ring_size=2MB"] }).ipc.ringSize, 2 << 20);
});

Deno.test("loadConfig() takes any max_packet_size with any ring size (records go in pieces)", () => {
  // MQTT's largest packet with the default 4MB ring, and a 4KB ring with a 1MB packet.
  const big = loadConfig({ sets: ["mqtt.max_packet_size=256MB"] });
  assertEquals([big.mqtt.maxPacketSize, big.ipc.ringSize], [256 << 20, 4 << 20]);
  const top = loadConfig({ sets: ["mqtt.max_packet_size=268435460", "ipc.ring_size=4KB"] });
  assertEquals([top.mqtt.maxPacketSize, top.ipc.ringSize], [268_435_460, 4096]);
  const over = configError(() => loadConfig({ sets: ["mqtt.max_packet_size=268435461"] }));
  assertEquals(over.key, "mqtt.max_packet_size");
});

Deno.test("loadConfig() reports a YAML syntax error with its line", () => {
  const yaml = "mqtt:\n  max_inflight: 8\n  bad: [unclosed\nlog:\n  level: info\n";
  const e = withFile(yaml, (file) => configError(() => loadConfig({ file })));
  assertEquals(e.key, "");
  assertEquals(e.expected, "valid YAML");
  assert(e.line !== null && e.line >= 3, `line ${e.line}`);
  assertMatch(e.message, /^Invalid config: .*\.yaml line \d+: expected valid YAML, got /);

  const dup = withFile(
    "log:\n  level: info\nlog:\n  format: json\n",
    (file) => configError(() => loadConfig({ file })),
  );
  assertEquals(dup.line, 3);
});

Deno.test("loadConfig() reports a file that cannot be read", () => {
  const e = configError(() => loadConfig({ file: "/nonexistent/culex.yaml" }));
  assertEquals([e.source, e.line], ["/nonexistent/culex.yaml", null]);
});

Deno.test("loadConfig() refuses a document that is not a mapping", () => {
  const e = withFile("- a\n- b\n", (file) => configError(() => loadConfig({ file })));
  assertEquals(e.line, 1);
  assertMatch(e.expected, /mapping/);
});
