import assert from "node:assert/strict";
import { type Config, loadConfig } from "../config/mod.ts";
import { applyConfig, changedPaths, type ReloadTarget } from "./reload.ts";

function target(config: Config): ReloadTarget & { applied: Config[] } {
  const t = {
    config,
    applied: [] as Config[],
    applyLive(next: Config) {
      t.applied.push(next);
      t.config = next;
      return Promise.resolve();
    },
  };
  return t;
}

Deno.test("applyConfig applies live keys only and names the others in EMQX's terms", async () => {
  const running = loadConfig({ sets: ["node.shards=1"] });
  const next = loadConfig({
    sets: [
      "node.shards=1",
      "mqtt.max_inflight=7",
      "log.level=debug",
      "listeners.tcp.default.bind=127.0.0.1:1999",
      "listeners.tcp.default.messages_rate=10/s",
      "node.name=other@host",
    ],
  });
  const t = target(running);
  const r = await applyConfig(t, next);
  assert.deepEqual(r.applied.sort(), [
    "listeners.tcp.default.messages_rate",
    "log.console.level",
    "log.file.level",
    "log.level",
    "mqtt.max_inflight",
  ]);
  assert.deepEqual(r.restartRequired.sort(), ["listeners.tcp.default.bind", "node.name"]);
  const live = t.applied[0]!;
  assert.equal(live.mqtt.maxInflight, 7);
  assert.equal(live.log.level, "debug");
  assert.equal(live.node.name, running.node.name, "restart-only keys keep their value");
  assert.equal(live.listeners.tcp.default?.port, running.listeners.tcp.default?.port);
  // A second reload of the same file reports what still needs a restart, and applies nothing.
  const again = await applyConfig(t, next);
  assert.deepEqual(again.applied, []);
  assert.deepEqual(again.restartRequired.sort(), ["listeners.tcp.default.bind", "node.name"]);
});

Deno.test("changedPaths compares lists whole and ignores warnings", () => {
  assert.deepEqual(
    changedPaths({ a: [1, 2], b: { c: 1 }, warnings: ["x"] }, {
      a: [1, 3],
      b: { c: 1 },
      warnings: [],
    }),
    [["a"]],
  );
});

Deno.test("applyConfig refuses an ACL file that does not parse, changing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "culex_reload_unit_" });
  try {
    await Deno.writeTextFile(`${dir}/acl.conf`, "{allow, all\n");
    await Deno.writeTextFile(
      `${dir}/culex.yaml`,
      `authorization:\n  sources:\n    - {type: file, path: ${dir}/acl.conf}\n`,
    );
    const next = loadConfig({ file: `${dir}/culex.yaml` });
    const t = target(loadConfig());
    await assert.rejects(applyConfig(t, next), /authorization\.sources\.0\.path: .*acl\.conf/);
    assert.equal(t.applied.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
