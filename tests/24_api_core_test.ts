/**
 * Integration suite 24 (issue 14), the HTTP API's core over real HTTP against a running broker
 * with real MQTT clients (npm:mqtt): /status without credentials, login and the server-side
 * forced change of the default password, 401s with EMQX's codes, the login lock, GET /clients
 * with filters, fields and paging across shards, client details, kick and subscriptions, and
 * POST /publish with EMQX's 200 / 202 / 400 `reason_code` answers. Two shards, so that paging
 * and lookups cross shards.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { withApiBroker } from "./_helpers/api.ts";
import { logged } from "./_helpers/broker.ts";
import { closeAll, collect, connect, runTag, subscribe, waitClosed } from "./_helpers/clients.ts";

Deno.test("24 api core: status, login, clients, publish", async (t) => {
  const tag = runTag();
  await withApiBroker({ shards: 2 }, async ({ broker, api, dataDir }) => {
    await t.step("GET /status answers without credentials, text and JSON", async () => {
      for (const path of ["//status", "/status"]) {
        const r = await api.get(path, { as: null });
        assertEquals(r.status, 200, r.text);
        assertEquals(r.text, "Node culex@127.0.0.1 is started\nculex is running", "status text");
      }
      const j = await api.get("/status?format=json", { as: null });
      assertEquals(j.json.node_name, "culex@127.0.0.1", "node_name");
      assertEquals([j.json.broker_status, j.json.app_status], ["started", "running"], "states");
      const bad = await api.get("/status?format=xml", { as: null });
      assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
      assert(bad.json.message.startsWith("format:"), bad.json.message);
    });

    await t.step("requests without or with bad credentials get EMQX's 401 codes", async () => {
      const none = await api.get("/clients", { as: null });
      assertEquals([none.status, none.json.code], [401, "AUTHORIZATION_HEADER_ERROR"], none.text);
      assertEquals(none.headers.get("www-authenticate"), 'Basic Realm="emqx-dashboard"', "realm");
      const token = await api.get("/clients", { as: { token: "abc.def" } });
      assertEquals([token.status, token.json.code], [401, "BAD_TOKEN"], token.text);
      const key = await api.get("/clients", { as: { key: "k", secret: "s" } });
      assertEquals([key.status, key.json.code], [401, "BAD_API_KEY_OR_SECRET"], key.text);
      const basicUser = await api.get("/clients", { as: { key: "admin", secret: "public" } });
      assertEquals(basicUser.status, 401, "dashboard user/password is not a Basic credential");
      const wrong = await api.post("/login", { username: "admin", password: "nope" }, { as: null });
      assertEquals([wrong.status, wrong.json.code], [401, "BAD_USERNAME_OR_PWD"], wrong.text);
    });

    await t.step(
      "the default admin/public may only change its password (server side)",
      async () => {
        const r = await api.post("/login", { username: "admin", password: "public" }, { as: null });
        assertEquals(r.status, 200, r.text);
        assertEquals(r.json.password_change_required, true, "login says the change is required");
        assertEquals(r.json.license, { edition: "opensource" }, "EMQX's license field");
        const as = { token: r.json.token as string };
        for (const path of ["/clients", "/status?format=json"]) {
          const got = await api.get(path, { as });
          if (path.startsWith("/status")) assertEquals(got.status, 200, "status needs no auth");
          else {assertEquals(
              [got.status, got.json.code],
              [403, "PASSWORD_CHANGE_REQUIRED"],
              got.text,
            );}
        }
        const pub = await api.post("/publish", { topic: "x", payload: "y" }, { as });
        assertEquals(pub.status, 403, "publish refused before the change");
        const weak = await api.post("/users/admin/change_pwd", {
          old_pwd: "public",
          new_pwd: "12345678",
        }, { as });
        assertEquals([weak.status, weak.json.code], [400, "BAD_REQUEST"], weak.text);
        assert(weak.json.message.startsWith("new_pwd:"), weak.json.message);
        const wrongOld = await api.post("/users/admin/change_pwd", {
          old_pwd: "publik",
          new_pwd: "Better-pass-1",
        }, { as });
        assertEquals(wrongOld.status, 400, wrongOld.text);
        const token = await api.asAdmin();
        const after = await api.get("/clients", { as: { token } });
        assertEquals(after.status, 200, after.text);
        const old = await api.get("/clients", { as });
        assertEquals(old.status, 401, "tokens from before the change stop working");
        const again = await api.post("/login", { username: "admin", password: "public" }, {
          as: null,
        });
        assertEquals(again.status, 401, "public no longer works");
        // The changed admin is in the durable store (users table, group "dashboard"), hashed.
        const db = new DatabaseSync(`${dataDir}/culex.db`, { readOnly: true });
        try {
          const rows = db.prepare("SELECT user_id, password_hash FROM users WHERE user_id_type = ?")
            .all("dashboard") as { user_id: string; password_hash: string }[];
          assertEquals(rows.map((r) => r.user_id), ["admin"], "admin row");
          assert(rows[0]!.password_hash.startsWith("pbkdf2-sha256$"), "hashed");
          assert(!rows[0]!.password_hash.includes("Culex-test-1"), "never the password");
        } finally {
          db.close();
        }
      },
    );

    await t.step("repeated failed logins lock the user name; logout ends the token", async () => {
      const add = await api.post("/users", { username: "ops1", password: "Ops-pass-1" });
      assertEquals(add.status, 200, add.text);
      for (let i = 0; i < 5; i++) {
        const r = await api.post("/login", { username: "ops1", password: "bad" }, { as: null });
        assertEquals(r.status, 401, "failed login");
      }
      const locked = await api.post("/login", { username: "ops1", password: "Ops-pass-1" }, {
        as: null,
      });
      assertEquals([locked.status, locked.json.code], [401, "BAD_USERNAME_OR_PWD"], locked.text);
      assert(/locked/i.test(locked.json.message), locked.json.message);
      assert(Number(locked.headers.get("retry-after")) > 0, "retry-after");
      assert(await logged(broker, /login of ops1 from 127\.0\.0\.1 refused/), "audit line");
      for (const secret of ["Ops-pass-1", "Culex-test-1"]) {
        assert(!broker.logs().includes(secret), "no password in the logs");
      }
      const t2 = await api.login("admin", "Culex-test-1");
      const out = await api.post("/logout", { username: "admin" }, { as: { token: t2 } });
      assertEquals(out.status, 204, out.text);
      const gone = await api.get("/clients", { as: { token: t2 } });
      assertEquals(gone.status, 401, "logged-out token");
    });

    const ids = Array.from({ length: 5 }, (_, i) => `c24-${tag}-${i}`);
    const clients = await Promise.all(ids.map((clientId, i) =>
      connect(broker.url, {
        protocolVersion: i % 2 === 0 ? 5 : 4,
        clientId,
        username: i < 2 ? "alice" : "bob",
      })
    ));
    try {
      await t.step("GET /clients pages across shards with meta.count and hasnext", async () => {
        const seen = new Set<string>();
        for (let page = 1; page <= 3; page++) {
          const r = await api.get(`/clients?like_clientid=${tag}&limit=2&page=${page}`);
          assertEquals(r.status, 200, r.text);
          assertEquals(r.json.meta.count, 5, "meta.count");
          assertEquals(r.json.meta.hasnext, page < 3, `hasnext on page ${page}`);
          assertEquals(r.json.data.length, page < 3 ? 2 : 1, `items on page ${page}`);
          for (const c of r.json.data) seen.add(c.clientid);
        }
        assertEquals([...seen].sort(), [...ids].sort(), "every client exactly once");
      });

      await t.step("GET /clients filters: username (repeatable), proto_ver, fields", async () => {
        const alice = await api.get(`/clients?username=alice&like_clientid=${tag}`);
        assertEquals(alice.json.meta.count, 2, alice.text);
        const both = await api.get(`/clients?username=alice&username=bob&like_clientid=${tag}`);
        assertEquals(both.json.meta.count, 5, both.text);
        const v5 = await api.get(`/clients?proto_ver=5&like_clientid=${tag}`);
        assertEquals(v5.json.meta.count, 3, v5.text);
        const f = await api.get(`/clients?clientid=${ids[0]}&fields=clientid,username`);
        assertEquals(f.json.data, [{ clientid: ids[0], username: "alice" }], f.text);
        const state = await api.get(`/clients?conn_state=connected&like_clientid=${tag}`);
        assertEquals(state.json.meta.count, 5, state.text);
        for (const q of ["limit=0", "limit=10001", "page=0", "proto_ver=x", "conn_state=up"]) {
          const r = await api.get(`/clients?${q}`);
          assertEquals([r.status, r.json.code], [400, "BAD_REQUEST"], `${q}: ${r.text}`);
          assert(r.json.message.startsWith(q.split("=")[0]!), `${q} names the field`);
        }
      });

      await t.step("GET /clients/{id}: EMQX's fields; 404 CLIENTID_NOT_FOUND", async () => {
        const r = await api.get(`/clients/${ids[1]}`);
        assertEquals(r.status, 200, r.text);
        assertEquals(
          [r.json.clientid, r.json.username, r.json.proto_ver],
          [ids[1], "alice", 4],
          "fields",
        );
        assertEquals([r.json.connected, r.json.ip_address], [true, "127.0.0.1"], "connected");
        const missing = await api.get(`/clients/none-${tag}`);
        assertEquals(missing.status, 404, missing.text);
        assertEquals(
          missing.json,
          { code: "CLIENTID_NOT_FOUND", message: "Client ID not found" },
          "404 body",
        );
      });

      await t.step(
        "subscribe / unsubscribe on a client's behalf, then a publish reaches it",
        async () => {
          const topic = `t24/${tag}/sub`;
          const sub = await api.post(`/clients/${ids[2]}/subscribe`, { topic, qos: 1 });
          assertEquals(sub.status, 200, sub.text);
          assertEquals([sub.json.topic, sub.json.qos], [topic, 1], "subscription");
          const list = await api.get(`/clients/${ids[2]}/subscriptions`);
          assertEquals(list.json.map((s: { topic: string }) => s.topic), [topic], list.text);
          const pub = await api.post("/publish", {
            topic,
            payload: "aGVsbG8=",
            payload_encoding: "base64",
            qos: 1,
          });
          assertEquals(pub.status, 200, pub.text);
          assert(/^[0-9a-f]{32}$/.test(pub.json.id), `message id ${pub.json.id}`);
          const got = await collect(clients[2]!, 1, 5000);
          assertEquals([got[0]!.topic, got[0]!.payload], [topic, "hello"], "delivered");
          const bad = await api.post(`/clients/${ids[2]}/subscribe`, { topic: "a/#/b" });
          assertEquals([bad.status, bad.json.code], [400, "BAD_REQUEST"], bad.text);
          const unsub = await api.post(`/clients/${ids[2]}/unsubscribe`, { topic });
          assertEquals(unsub.status, 204, unsub.text);
          const none = await api.post("/publish", { topic, payload: "x" });
          assertEquals(none.status, 202, none.text);
          assertEquals(
            none.json,
            { reason_code: 16, message: "no_matching_subscribers" },
            "202 body",
          );
          const nobody = await api.post(`/clients/none-${tag}/subscribe`, { topic });
          assertEquals(nobody.status, 404, nobody.text);
          assertEquals((await api.get(`/clients/none-${tag}/subscriptions`)).status, 404, "404");
        },
      );

      await t.step(
        "POST /publish: 400 reason_code 144 / 151, bad body names the field",
        async () => {
          const wild = await api.post("/publish", { topic: "a/+", payload: "x" });
          assertEquals([wild.status, wild.json], [400, {
            reason_code: 144,
            message: "topic_name_invalid",
          }], wild.text);
          const big = await api.post("/publish", {
            topic: "big",
            payload: "x".repeat(1024 * 1024 + 1),
          });
          assertEquals([big.status, big.json.reason_code], [400, 151], big.text);
          const qos = await api.post("/publish", { topic: "a", payload: "x", qos: 3 });
          assertEquals([qos.status, qos.json.code], [400, "BAD_REQUEST"], qos.text);
          assert(qos.json.message.startsWith("qos:"), qos.json.message);
          const notJson = await api.request("POST", "/publish", { raw: "{" });
          assertEquals([notJson.status, notJson.json.code], [400, "BAD_REQUEST"], notJson.text);
        },
      );

      await t.step("POST /publish/bulk: per-message answers, 202 when one had nobody", async () => {
        const topic = `t24/${tag}/bulk`;
        const subscriber = clients[3]!;
        await subscribe(subscriber, topic, { qos: 0 });
        const r = await api.post("/publish/bulk", [
          { topic, payload: "1" },
          { topic: `${topic}/nobody`, payload: "2" },
        ]);
        assertEquals(r.status, 202, r.text);
        assert(typeof r.json[0].id === "string", "first delivered");
        assertEquals(r.json[1], { reason_code: 16, message: "no_matching_subscribers" }, "second");
        const bad = await api.post("/publish/bulk", [{ topic, payload: "1" }, { topic: "#" }]);
        assertEquals([bad.status, bad.json.reason_code], [400, 144], bad.text);
        const got = await collect(subscriber, 1, 5000);
        assertEquals(got.map((m) => m.payload), ["1"], "only the valid batch's message arrived");
      });

      await t.step("DELETE /clients/{id} kicks the client; then 404", async () => {
        const r = await api.delete(`/clients/${ids[4]}`);
        assertEquals(r.status, 204, r.text);
        await waitClosed(clients[4]!, 5000);
        assertEquals((await api.get(`/clients/${ids[4]}`)).status, 404, "gone");
        assertEquals((await api.delete(`/clients/${ids[4]}`)).status, 404, "kick twice");
      });

      await t.step(
        "POST /clients/kickout/bulk kicks several; unknown ids are skipped",
        async () => {
          const r = await api.post("/clients/kickout/bulk", [ids[0], ids[1], `none-${tag}`]);
          assertEquals(r.status, 204, r.text);
          await waitClosed(clients[0]!, 5000);
          await waitClosed(clients[1]!, 5000);
          assertEquals((await api.get(`/clients/${ids[0]}`)).status, 404, "gone");
          const bad = await api.post("/clients/kickout/bulk", []);
          assertEquals(bad.status, 400, bad.text);
        },
      );

      await t.step("unknown paths and methods", async () => {
        const r = await api.get("/no/such/path");
        assertEquals([r.status, r.json.code], [404, "NOT_FOUND"], r.text);
        const m = await api.put("/clients");
        assertEquals(m.status, 405, m.text);
      });
    } finally {
      await closeAll(clients);
    }
  });
});
