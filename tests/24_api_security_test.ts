/**
 * Integration suite 24 (issue 14): the built-in security data through the HTTP API, checked
 * with real MQTT clients (npm:mqtt) on a broker with two shards: users of
 * `password_based:built_in_database` (add, list, page, change, remove; a change applies to every
 * shard before the API answers, so clients hashed to either shard see it) and the rules of the
 * `built_in_database` authorization source (per username, per client id, for all). MQTT 5 CONNACK
 * 0x86 Bad User Name or Password [MQTT-3.2.2-8]; an unauthorized QoS 1 PUBLISH is answered 0x87
 * and not forwarded [MQTT-3.3.5-2 reasons].
 */

import { connackCode } from "./_helpers/auth_broker.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { withApiBroker } from "./_helpers/api.ts";
import { logged } from "./_helpers/broker.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  expectNone,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";

const CONFIG = `
authentication:
  - mechanism: password_based
    backend: built_in_database
    password_hash_algorithm: {name: pbkdf2, mac_fun: sha256, iterations: 1000}
authorization:
  no_match: allow
  sources:
    - type: built_in_database
      max_rules: 3
`;
const USERS = "/authentication/password_based%3Abuilt_in_database/users";
const RULES = "/authorization/sources/built_in_database/rules";

Deno.test("24 api security: built-in users and rules apply on every shard", async (t) => {
  const tag = runTag();
  // A file, so that a step can change it and reload (SIGHUP).
  const configFile = await Deno.makeTempFile({ prefix: "culex_api_security_", suffix: ".yaml" });
  await Deno.writeTextFile(configFile, CONFIG);
  await withApiBroker({ shards: 2, configFile }, async ({ broker, api }) => {
    await api.asAdmin();
    const v5 = (clientId: string, username: string, password: string) =>
      connackCode(broker.url, { protocolVersion: 5, clientId, username, password });

    await t.step("users: add, connect on both shards, list, page, filter, 409, 404", async () => {
      for (const i of [1, 2, 3]) {
        const r = await api.post(USERS, {
          user_id: `u${i}-${tag}`,
          password: `pw${i}`,
          is_superuser: i === 3,
        });
        assertEquals(r.status, 201, r.text);
        assertEquals(r.json, { user_id: `u${i}-${tag}`, is_superuser: i === 3 }, "created");
      }
      for (const shard of [0, 1]) {
        const id = clientIdForShard(shard, 2, `c24s${tag}`);
        assertEquals(await v5(id, `u1-${tag}`, "pw1"), 0, `accepted on shard ${shard}`);
        assertEquals(await v5(id, `u1-${tag}`, "bad"), 0x86, `bad password on shard ${shard}`);
      }
      const dup = await api.post(USERS, { user_id: `u1-${tag}`, password: "x" });
      assertEquals([dup.status, dup.json.code], [409, "ALREADY_EXISTS"], dup.text);
      const page = await api.get(`${USERS}?like_user_id=${tag}&limit=2`);
      assertEquals([page.json.meta.count, page.json.data.length, page.json.meta.hasnext], [
        3,
        2,
        true,
      ], page.text);
      const su = await api.get(`${USERS}?is_superuser=true&like_user_id=${tag}`);
      assertEquals(su.json.data, [{ user_id: `u3-${tag}`, is_superuser: true }], su.text);
      const one = await api.get(`${USERS}/u2-${tag}`);
      assertEquals(one.json, { user_id: `u2-${tag}`, is_superuser: false }, one.text);
      assertEquals((await api.get(`${USERS}/none-${tag}`)).status, 404, "unknown user");
      const other = await api.get("/authentication/password_based%3Aredis/users");
      assertEquals([other.status, other.json.code], [404, "NOT_FOUND"], other.text);
      const bad = await api.post(USERS, { user_id: "", password: "x" });
      assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
      assert(bad.json.message.startsWith("user_id:"), bad.json.message);
      const chain = await api.get("/authentication");
      assertEquals(chain.json[0].id, "password_based:built_in_database", chain.text);
    });

    await t.step("users: a password change and a removal apply at once", async () => {
      const id = clientIdForShard(1, 2, `c24p${tag}`);
      const r = await api.put(`${USERS}/u2-${tag}`, { password: "new-pw" });
      assertEquals(r.status, 200, r.text);
      assertEquals(await v5(id, `u2-${tag}`, "pw2"), 0x86, "old password refused");
      assertEquals(await v5(id, `u2-${tag}`, "new-pw"), 0, "new password accepted");
      assertEquals((await api.delete(`${USERS}/u2-${tag}`)).status, 204, "removed");
      assert((await v5(id, `u2-${tag}`, "new-pw")) !== 0, "a removed user cannot connect");
      assertEquals((await api.delete(`${USERS}/u2-${tag}`)).status, 404, "remove twice");
    });

    await t.step(
      "rules: a username's deny stops its publishes; removal lets them through",
      async () => {
        const topic = `secret24/${tag}/x`;
        const sub = await connect(broker.url, {
          protocolVersion: 5,
          clientId: clientIdForShard(0, 2, `c24sub${tag}`),
          username: `u3-${tag}`,
          password: "pw3",
        });
        const pub = await connect(broker.url, {
          protocolVersion: 5,
          clientId: clientIdForShard(1, 2, `c24pub${tag}`),
          username: `u1-${tag}`,
          password: "pw1",
        });
        try {
          await subscribe(sub, topic, { qos: 1 });
          const set = await api.post(`${RULES}/users`, [{
            username: `u1-${tag}`,
            rules: [{ topic: `secret24/${tag}/#`, permission: "deny", action: "publish" }],
          }]);
          assertEquals(set.status, 204, set.text);
          const got = await api.get(`${RULES}/users/u1-${tag}`);
          assertEquals(got.json.rules[0].permission, "deny", got.text);
          const list = await api.get(`${RULES}/users?like_username=${tag}`);
          assertEquals(list.json.meta.count, 1, list.text);
          // npm:mqtt rejects a publish whose PUBACK carries a failure code, with that code.
          const denied = await pub.publishAsync(topic, "no", { qos: 1 }).then(
            () => 0,
            (e: { code?: number }) => e.code ?? -1,
          );
          assertEquals(denied, 0x87, "PUBACK 0x87 Not authorized");
          await expectNone(sub, 300);
          assertEquals((await api.delete(`${RULES}/users/u1-${tag}`)).status, 204, "rules removed");
          // The decision cache (authorization.cache) keeps a decision for its ttl: a fresh topic.
          const topic2 = `secret24/${tag}/y`;
          await subscribe(sub, topic2, { qos: 1 });
          await pub.publishAsync(topic2, "yes", { qos: 1 });
          const m = await collect(sub, 1, 5000);
          assertEquals(m[0]!.payload, "yes", "allowed after the rules went");
          assertEquals((await api.delete(`${RULES}/users/u1-${tag}`)).status, 404, "remove twice");
        } finally {
          await closeAll([sub, pub]);
        }
      },
    );

    await t.step("rules: clients and all; bad rules name the field", async () => {
      const c = await api.post(`${RULES}/clients`, [{
        clientid: `cid-${tag}`,
        rules: [{ topic: "a/#", permission: "allow", action: "all", qos: [0, 1] }],
      }]);
      assertEquals(c.status, 204, c.text);
      const one = await api.get(`${RULES}/clients/cid-${tag}`);
      assertEquals(one.json.clientid, `cid-${tag}`, one.text);
      const all = await api.post(`${RULES}/all`, {
        rules: [{ topic: "public/#", permission: "allow", action: "subscribe" }],
      });
      assertEquals(all.status, 204, all.text);
      assertEquals((await api.get(`${RULES}/all`)).json.rules.length, 1, "all rules");
      assertEquals((await api.delete(`${RULES}/all`)).status, 204, "all removed");
      const bad = await api.post(`${RULES}/users`, [{
        username: "x",
        rules: [{ topic: "t", permission: "maybe", action: "publish" }],
      }]);
      assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
      assert(bad.json.message.startsWith("0.rules.0.permission:"), bad.json.message);
      // More than max_rules (3 here) for one user: 400 as EMQX answers, and nothing is set.
      const four = Array.from({ length: 4 }, (_, i) => ({
        topic: `t/${i}`,
        permission: "allow",
        action: "publish",
      }));
      const tooMany = await api.post(`${RULES}/users`, [{ username: `many-${tag}`, rules: four }]);
      assertEquals([tooMany.status, tooMany.json.code], [400, "BAD_REQUEST"], tooMany.text);
      assert(tooMany.json.message.includes("exceeds the maximum limit"), tooMany.json.message);
      assertEquals((await api.get(`${RULES}/users/many-${tag}`)).status, 404, "none set");
      const put = await api.put(`${RULES}/clients/many-${tag}`, { rules: four });
      assertEquals(put.status, 400, put.text);
      // A reload raises max_rules: the API checks against the running configuration, not the
      // one it started with (GET /authorization/sources shows it too).
      await Deno.writeTextFile(configFile, CONFIG.replace("max_rules: 3", "max_rules: 4"));
      broker.signal("SIGHUP");
      assert(await logged(broker, "Configuration reloaded"), broker.logs());
      const sources = await api.get("/authorization/sources");
      assertEquals(sources.json.sources[0].max_rules, 4, sources.text);
      const fits = await api.post(`${RULES}/users`, [{ username: `many-${tag}`, rules: four }]);
      assertEquals(fits.status, 204, fits.text);
      const noKey = await api.post(`${RULES}/users`, [{ clientid: "x", rules: [] }]);
      assertEquals(noKey.status, 400, noKey.text);
      assertEquals((await api.get(`${RULES}/groups`)).status, 404, "unknown rules type");
    });
  });
  await Deno.remove(configFile).catch(() => {});
});
