/**
 * Integration suite 24 (routes, issue 14): the HTTP API as a whole against a running broker —
 * every documented route but the public ones refuses a request without credentials, dashboard
 * admin users (a viewer may not publish, the last administrator stays), bulk subscribe and
 * unsubscribe for a connected npm:mqtt client, PUT of a rule source that is not configured
 * (404), and the OpenAPI document listing every route with its schemas. Four shards. The
 * resources themselves: 24_api_resources_test.ts.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { withApiBroker } from "./_helpers/api.ts";
import { closeAll, connect, runTag } from "./_helpers/clients.ts";

Deno.test("24 api routes: credentials, admin users, bulk subscribe, OpenAPI", async (t) => {
  const tag = runTag();
  await withApiBroker(
    { shards: 4, sets: ["sys_topics.sys_msg_interval=0"] },
    async ({ broker, api }) => {
      await api.asAdmin();

      await t.step("every documented route but the public ones needs credentials", async () => {
        const doc = (await api.get("//api-docs/swagger.json", { as: null })).json;
        let checked = 0;
        for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) {
          for (const [method, op] of Object.entries(ops as Record<string, { security?: [] }>)) {
            const r = await api.request(method.toUpperCase(), path.replace(/\{\w+\}/g, "x"), {
              as: null,
              ...(method === "get" || method === "delete" ? {} : { body: {} }),
            });
            if (op.security) assert(r.status !== 401, `${method} ${path} is public`);
            else {
              assertEquals(r.status, 401, `${method} ${path} without credentials`);
              checked++;
            }
          }
        }
        assert(checked > 40, `${checked} protected routes`);
      });

      await t.step(
        "admin users; bulk subscribe/unsubscribe; PUT rules 404 without the source",
        async () => {
          const add = await api.post("/users", {
            username: `viewer${tag}`,
            password: "View-pass-1",
            role: "viewer",
          });
          assertEquals(add.status, 200, add.text);
          const list = await api.get("/users");
          assert(
            list.json.some((u: { username: string }) => u.username === `viewer${tag}`),
            list.text,
          );
          const viewerToken = await api.login(`viewer${tag}`, "View-pass-1");
          const denied = await api.post("/publish", { topic: "a", payload: "b" }, {
            as: { token: viewerToken },
          });
          assertEquals([denied.status, denied.json.code], [403, "UNAUTHORIZED_ROLE"], denied.text);
          assertEquals((await api.delete(`/users/viewer${tag}`)).status, 204, "removed");
          assertEquals(
            (await api.get("/stats", { as: { token: viewerToken } })).status,
            401,
            "gone",
          );
          assertEquals((await api.delete(`/users/viewer${tag}`)).status, 404, "twice");
          const last = await api.delete("/users/admin");
          assertEquals(last.status, 400, "the last administrator stays");
          const c = await connect(broker.url, { protocolVersion: 5, clientId: `b24-${tag}` });
          try {
            const sub = await api.post(`/clients/b24-${tag}/subscribe/bulk`, [
              { topic: `bulk/${tag}/1` },
              { topic: `bulk/${tag}/2`, qos: 2 },
            ]);
            assertEquals(sub.json.map((x: { qos: number }) => x.qos), [0, 2], sub.text);
            const un = await api.post(`/clients/b24-${tag}/unsubscribe/bulk`, [
              { topic: `bulk/${tag}/1` },
              { topic: `bulk/${tag}/2` },
            ]);
            assertEquals(un.status, 204, un.text);
            assertEquals(
              (await api.get(`/clients/b24-${tag}/subscriptions`)).json,
              [],
              "none left",
            );
          } finally {
            await closeAll([c]);
          }
          const src = await api.get("/authorization/sources");
          assertEquals(src.json.sources[0].type, "file", src.text);
          const rules = await api.put("/authorization/sources/built_in_database/rules/users/u", {
            rules: [],
          });
          assertEquals([rules.status, rules.json.code], [404, "NOT_FOUND"], "no built-in source");
        },
      );

      await t.step("/api-docs/swagger.json lists every route with its schemas", async () => {
        const r = await api.get("//api-docs/swagger.json", { as: null });
        assertEquals(r.status, 200, r.text);
        const paths = r.json.paths as Record<string, Record<string, unknown>>;
        for (
          const [p, m] of [
            ["/login", "post"],
            ["/clients", "get"],
            ["/clients/{clientid}", "delete"],
            ["/publish", "post"],
            ["/mqtt/retainer/message/{topic}", "get"],
            ["/banned/{as}/{who}", "delete"],
            ["/prometheus/stats", "get"],
            ["/authentication/{id}/users", "post"],
          ] as const
        ) assert(paths[p]?.[m] !== undefined, `${m} ${p} documented`);
        const body = (paths["/publish"]!.post as {
          requestBody: { content: { "application/json": { schema: { required: string[] } } } };
        }).requestBody.content["application/json"].schema;
        assert(body.required.includes("topic"), JSON.stringify(body));
      });
    },
  );
});
