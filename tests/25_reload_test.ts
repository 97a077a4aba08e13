/**
 * Run-time configuration changes on a running broker (src/supervisor/reload.ts): SIGHUP
 * re-reads the config file and applies a new mqtt.max_clientid_len and a changed ACL file to
 * every shard while a client stays connected and keeps receiving; a bad file is logged with
 * its key and line and changes nothing; `culex ctl conf reload` reports the keys that need a
 * restart. Real clients: npm:mqtt and mosquitto_pub.
 */

import assert from "node:assert/strict";
import type mqtt from "mqtt";
import { startBroker } from "./_helpers/broker.ts";
import { closeAll, collect, connect, isClosed, subscribe } from "./_helpers/clients.ts";
import { ctl } from "./_helpers/culex_cli.ts";

function yaml(dir: string, maxClientidLen: string, extra = ""): string {
  return `node:
  data_dir: ${dir}/data
mqtt:
  max_clientid_len: ${maxClientidLen}
authorization:
  no_match: allow
  deny_action: ignore
  sources:
    - {type: file, path: ${dir}/acl.conf}
${extra}`;
}

/** Waits (bounded) until the broker's output holds `n` matches of `re`; returns the last. */
async function logged(logs: () => string, re: RegExp, n: number): Promise<RegExpMatchArray> {
  const g = new RegExp(re.source, "g");
  for (let i = 0; i < 400; i++) {
    const all = [...logs().matchAll(g)];
    if (all.length >= n) return all[n - 1]!;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${n}th ${re} in:\n${logs()}`);
}

async function pub(port: number, topic: string, message: string): Promise<void> {
  const r = await new Deno.Command("mosquitto_pub", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-t", topic, "-m", message, "-q", "1"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

/** The CONNACK reason code of a new MQTT 5 connection (0 = accepted). */
async function connackOf(url: string, clientId: string): Promise<number> {
  try {
    const c = await connect(url, { clientId, protocolVersion: 5 });
    await closeAll([c]);
    return 0;
  } catch (e) {
    return Number((e as { code?: number }).code ?? -1);
  }
}

Deno.test("SIGHUP applies limits and the ACL file without dropping a client", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "culex_reload_" });
  const file = `${dir}/culex.yaml`;
  await Deno.writeTextFile(`${dir}/acl.conf`, "{allow, all}.\n");
  await Deno.writeTextFile(file, yaml(dir, "65535"));
  const broker = await startBroker({ configFile: file, shards: 2, dataDir: `${dir}/data` });
  const clients: mqtt.MqttClient[] = [];
  const id24 = "x".repeat(24);
  try {
    const keeper = await connect(broker.url, { clientId: "keeper", protocolVersion: 5 });
    clients.push(keeper);
    await subscribe(keeper, "k/#", { qos: 1 });
    assert.equal(await connackOf(broker.url, id24), 0);
    assert.equal((await subscribe(keeper, "secret/a", { qos: 1 }))[0]?.qos, 1);

    await t.step("a new limit and ACL file apply to every shard; the client stays", async () => {
      await Deno.writeTextFile(file, yaml(dir, "23"));
      await Deno.writeTextFile(
        `${dir}/acl.conf`,
        '{deny, all, subscribe, ["secret/#"]}.\n{allow, all}.\n',
      );
      broker.signal("SIGHUP");
      const line = await logged(broker.logs, /Configuration reloaded; [^\n]*/, 1);
      assert.equal(
        line[0],
        "Configuration reloaded; applied: mqtt.max_clientid_len, authorization.sources; " +
          "need a restart: nothing",
      );
      // MQTT 5, 3.2.2.2: 0x85 Client Identifier not valid (over the new max_clientid_len).
      assert.equal(await connackOf(broker.url, id24), 0x85);
      assert.equal(await connackOf(broker.url, "y".repeat(23)), 0);
      // The re-read ACL denies a new subscription: SUBACK 0x87 Not authorized (MQTT 5, 3.9.3).
      const denied = await subscribe(keeper, "secret/b", { qos: 1 }).catch(() => [{ qos: 0x87 }]);
      assert.equal(denied[0]?.qos, 0x87);
      assert.ok(!isClosed(keeper));
      await pub(broker.port, "k/1", "still here");
      assert.equal((await collect(keeper, 1, 5000))[0]?.payload, "still here");
    });

    await t.step("a bad file is logged with key and line and changes nothing", async () => {
      await Deno.writeTextFile(file, yaml(dir, "many"));
      await Deno.writeTextFile(`${dir}/acl.conf`, "{allow, all}.\n");
      broker.signal("SIGHUP");
      const line = await logged(broker.logs, /Reload refused, nothing changed: [^\n]*/, 1);
      assert.match(line[0], /mqtt\.max_clientid_len/);
      assert.match(line[0], /culex\.yaml line 4: expected an integer 23-65535, got "many"/);
      assert.equal(await connackOf(broker.url, id24), 0x85);
      const denied = await subscribe(keeper, "secret/c", { qos: 1 }).catch(() => [{ qos: 0x87 }]);
      assert.equal(denied[0]?.qos, 0x87, "the old ACL still holds");
      assert.ok(!isClosed(keeper));
    });

    await t.step("an invalid ACL file is refused too", async () => {
      await Deno.writeTextFile(file, yaml(dir, "40"));
      await Deno.writeTextFile(`${dir}/acl.conf`, "{allow, all\n");
      broker.signal("SIGHUP");
      const line = await logged(broker.logs, /Reload refused, nothing changed: [^\n]*/, 2);
      assert.match(line[0], /authorization\.sources\.0\.path: .*acl\.conf/);
      assert.equal(await connackOf(broker.url, id24), 0x85);
    });

    await t.step("ctl conf reload names the keys that need a restart", async () => {
      await Deno.writeTextFile(`${dir}/acl.conf`, "{allow, all}.\n");
      await Deno.writeTextFile(
        file,
        yaml(dir, "23", "listeners:\n  tcp:\n    default:\n      max_connections: 10\n"),
      );
      assert.equal(
        await ctl(`${dir}/data`, "conf", "reload"),
        "applied: authorization.sources\n" +
          "restart required: listeners.tcp.default.max_connections\n",
      );
      assert.equal((await subscribe(keeper, "secret/d", { qos: 1 }))[0]?.qos, 1);
      assert.ok(!isClosed(keeper));
    });
  } finally {
    await closeAll(clients);
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
