/**
 * Security on the wire, broker level: a bad authentication key refused at start, wrong passwords
 * refused, ACL denials with EMQX's codes, deny_action = disconnect, `$SYS` read rules. Bans,
 * flapping, a dead backend and rate limits: 19_auth_limits_test.ts. The decision modules
 * (src/auth/) are tested on their own in src/auth/*_test.ts and tests/18_auth_*; the cases marked
 * `ignore: WIRING` need the hooks wiring (lead) in src/shard/ and src/supervisor/ and are enabled
 * with it. Each case starts its own broker.
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker } from "./_helpers/broker.ts";
import { startExpectingExit } from "./_helpers/culex_cli.ts";
import {
  closeAll,
  collect,
  connect,
  disconnectOf,
  expectNone,
  publish,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";
import { configDir, connackCode, USERS_CSV, WIRING } from "./_helpers/auth_broker.ts";

const BUILTIN = `
authentication:
  - mechanism: password_based
    backend: built_in_database
    bootstrap_file: $DIR/users.csv
`;

Deno.test("a bad authentication key exits 2 before listening, naming key and line", async () => {
  const { dir, file } = await configDir(
    'authentication:\n  - mechanism: password_based\n    backend: redis\n    cmd: "HGET u:${nope} h"\n',
  );
  try {
    const out = await startExpectingExit(["--config", file]);
    assert.equal(out.code, 2, out.out);
    assert.match(out.out, /authentication\.0\.cmd at .* line 4: expected .*unknown: \$\{nope\}/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "built-in users: wrong password CONNACK 0x86 (v5) / 4 (v3.1.1), right password accepted",
  ignore: WIRING, // needs the hooks wiring (lead)
  fn: async () => {
    const { dir, file } = await configDir(BUILTIN, { "users.csv": USERS_CSV });
    const broker = await startBroker({ configFile: file });
    try {
      assert.equal(
        await connackCode(broker.url, {
          protocolVersion: 5,
          clientId: "a1",
          username: "alice",
          password: "nope",
        }),
        0x86,
      );
      assert.equal(
        await connackCode(broker.url, {
          protocolVersion: 4,
          clientId: "a2",
          username: "alice",
          password: "nope",
        }),
        4,
      );
      assert.equal(
        await connackCode(broker.url, {
          protocolVersion: 5,
          clientId: "a3",
          username: "alice",
          password: "alice-pw",
        }),
        0,
      );
      // No user name: the built-in database ignores the client, and a chain where every
      // authenticator ignores refuses with not_authorized (EMQX's emqx_authn_chains): 0x87.
      assert.equal(
        await connackCode(broker.url, { protocolVersion: 5, clientId: "a4" }),
        0x87,
        "no user name",
      );
    } finally {
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const ACL = `
{allow, {username, "alice"}, publish, ["pub/#"]}.
{allow, {username, "alice"}, subscribe, ["sub/#"]}.
{deny, all}.
`;

for (const denyAction of ["ignore", "disconnect"] as const) {
  Deno.test({
    name:
      `ACL denials with deny_action = ${denyAction}: SUBACK 0x87/0x80, PUBACK/PUBREC 0x87, QoS 0 dropped`,
    ignore: WIRING, // needs the hooks wiring (lead)
    fn: async () => {
      const yaml =
        `authorization:\n  no_match: deny\n  deny_action: ${denyAction}\n  sources:\n    - {type: file, path: $DIR/acl.conf}\n`;
      const { dir, file } = await configDir(yaml, { "acl.conf": ACL });
      const broker = await startBroker({ configFile: file, shards: 2 });
      const clients: mqtt.MqttClient[] = [];
      try {
        const v5 = await connect(broker.url, {
          protocolVersion: 5,
          clientId: `z5-${denyAction}`,
          username: "alice",
        });
        clients.push(v5);
        if (denyAction === "ignore") {
          const g5 = await subscribe(v5, "secret/#", { qos: 1 }).catch(() => [{ qos: 0x87 }]);
          assert.equal(g5[0]?.qos, 0x87);
          const v3 = await connect(broker.url, {
            protocolVersion: 4,
            clientId: "z3",
            username: "alice",
          });
          clients.push(v3);
          const g3 = await subscribe(v3, "secret/#", { qos: 1 }).catch(() => [{ qos: 0x80 }]);
          assert.equal(g3[0]?.qos, 0x80);
          const watcher = await connect(broker.url, {
            protocolVersion: 5,
            clientId: "w",
            username: "alice",
          });
          clients.push(watcher);
          await subscribe(watcher, "sub/#", { qos: 1 });
          await assert.rejects(
            v5.publishAsync("secret/1", "x", { qos: 1 }),
            (e: { code?: number }) => e.code === 0x87,
          );
          await assert.rejects(
            v5.publishAsync("secret/2", "x", { qos: 2 }),
            (e: { code?: number }) => e.code === 0x87,
          );
          await publish(v5, "secret/0", "dropped", { qos: 0 });
          await publish(v5, "pub/ok", "ok", { qos: 1 });
          await expectNone(watcher, 300);
        } else {
          v5.subscribe("secret/#", { qos: 1 });
          await waitClosed(v5, 5000);
          assert.equal(disconnectOf(v5)?.reasonCode, 0x87);
        }
      } finally {
        await closeAll(clients);
        await broker.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "$SYS/# is readable only where the ACL says so (EMQX's default acl.conf)",
  ignore: WIRING, // needs the hooks wiring (lead)
  fn: async () => {
    const acl =
      `{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.\n{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.\n{allow, all}.\n`;
    const { dir, file } = await configDir(
      "authorization:\n  sources:\n    - {type: file, path: $DIR/acl.conf}\n",
      { "acl.conf": acl },
    );
    const broker = await startBroker({
      configFile: file,
      sets: ["sys_topics.sys_msg_interval=1s"],
    });
    const clients: mqtt.MqttClient[] = [];
    try {
      const dash = await connect(broker.url, {
        protocolVersion: 5,
        clientId: "d",
        username: "dashboard",
      });
      const other = await connect(broker.url, {
        protocolVersion: 5,
        clientId: "o",
        username: "other",
      });
      clients.push(dash, other);
      assert.equal((await subscribe(dash, "$SYS/#", { qos: 0 }))[0]?.qos, 0);
      const denied = await subscribe(other, "$SYS/#", { qos: 0 }).catch(() => [{ qos: 0x87 }]);
      assert.equal(denied[0]?.qos, 0x87);
      assert.ok((await collect(dash, 1, 5000)).length === 1);
    } finally {
      await closeAll(clients);
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
