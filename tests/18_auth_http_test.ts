/**
 * password_based:http and the http authorization source against an HTTP service written here
 * (Deno.serve on a free port) that follows EMQX's request/response contract: the shared
 * contract suites, the response forms (204, 200 + result, form bodies, other statuses,
 * expire_at, acl, client_attrs), values arriving intact, then the service shut down.
 */

import assert from "node:assert/strict";
import {
  type AuthnBackend,
  type AuthzBackend,
  backendContracts,
  client,
  type ContractRule,
  NASTY,
} from "./_helpers/auth_contract.ts";
import { createAuthenticationChain } from "../src/auth/mod.ts";
import type { HttpAuthnConfig } from "../src/config/mod.ts";

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: Record<string, string>;
}

/** Rule topic (with placeholders) against a requested topic, as a test service would do it. */
function ruleCovers(rule: string, topic: string): boolean {
  const f = rule.split("/");
  const n = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= n.length || (f[i] !== "+" && f[i] !== n[i])) return false;
  }
  return f.length === n.length;
}

Deno.test({
  name: "http: authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const users = new Map<string, { password: string; superuser: boolean }>();
    const acls = new Map<string, readonly ContractRule[]>();
    const seen: Seen[] = [];
    let hang: Promise<void> | null = null;
    let release = () => {};
    let special: ((s: Seen) => Response | null) | null = null;
    const abort = new AbortController();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: () => {},
    }, async (req) => {
      const url = new URL(req.url);
      const text = await req.text();
      const body = text === "" ? {} : JSON.parse(text);
      const s: Seen = { method: req.method, url, headers: req.headers, body };
      seen.push(s);
      if (hang) await hang;
      const over = special?.(s);
      if (over) return over;
      if (url.pathname === "/auth") {
        const u = users.get(body.key);
        if (!u) return Response.json({ result: "ignore" });
        if (u.password !== body.password) return Response.json({ result: "deny" });
        return Response.json({ result: "allow", is_superuser: u.superuser });
      }
      const q = url.searchParams;
      const rules = acls.get(q.get("u") ?? "") ?? [];
      for (const r of rules) {
        const topic = r.topic.replace("${username}", q.get("u") ?? "").replace(
          "${clientid}",
          q.get("c") ?? "",
        );
        if (r.action !== "all" && r.action !== q.get("a")) continue;
        if (r.qos && !r.qos.includes(Number(q.get("q")))) continue;
        if (r.retain !== undefined && q.get("a") === "publish" && String(r.retain) !== q.get("r")) {
          continue;
        }
        if (ruleCovers(topic, q.get("t") ?? "")) return Response.json({ result: r.permission });
      }
      return new Response(null, { status: 404 });
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    const pause = () => {
      hang = new Promise((r) => (release = r));
    };
    const resume = () => {
      hang = null;
      release();
    };
    const authnConfig = (
      key: string,
      requestTimeout: number,
      over: Partial<HttpAuthnConfig> = {},
    ): HttpAuthnConfig => ({
      mechanism: "password_based",
      backend: "http",
      enable: true,
      method: "post",
      url: `${base}/auth`,
      headers: { "x-client": "${clientid}" },
      body: { key: `\${${key}}`, password: "${password}" },
      requestTimeout,
      poolSize: 4,
      ...over,
    });
    const authn: AuthnBackend = {
      id: "password_based:http",
      denyCode: 0x87,
      keys: ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"],
      config: (key, timeout) => authnConfig(key, timeout),
      addUser(key, password, superuser) {
        users.set(key, { password, superuser });
        return Promise.resolve();
      },
      intact() {
        assert.ok(users.size >= 2);
        return Promise.resolve();
      },
      pause,
      resume,
      kill: () => {
        resume();
        abort.abort();
      },
    };
    const authz: AuthzBackend = {
      type: "http",
      canDeny: true,
      conditions: true,
      config: (requestTimeout) => ({
        type: "http",
        enable: true,
        method: "get",
        url:
          `${base}/acl?u=\${username}&c=\${clientid}&t=\${topic}&a=\${action}&q=\${qos}&r=\${retain}`,
        headers: {},
        body: {},
        requestTimeout,
        poolSize: 4,
      }),
      setRules(user, rules) {
        acls.set(user, rules);
        return Promise.resolve();
      },
      pause,
      resume,
    };
    try {
      await t.step(
        "EMQX's response forms: 204, form bodies, other statuses, expire_at, acl, client_attrs",
        async () => {
          const chain = createAuthenticationChain([authnConfig("username", 2000)]);
          const answer = () =>
            Promise.resolve(chain.authenticators[0]!.authenticate(client({ pw: "x" })));
          try {
            special = () => new Response(null, { status: 204 });
            assert.deepEqual(await answer(), { result: "allow", superuser: false });
            special = () =>
              new Response("result=allow&is_superuser=true", {
                headers: { "content-type": "application/x-www-form-urlencoded" },
              });
            assert.deepEqual(await answer(), { result: "allow", superuser: true });
            for (const status of [400, 401, 500, 503]) {
              special = () => Response.json({ result: "allow" }, { status });
              assert.equal((await answer()).result, "ignore", `status ${status}`);
            }
            special = () => Response.json({ result: "maybe" });
            assert.equal((await answer()).result, "ignore");
            const exp = Math.floor(Date.now() / 1000) + 600;
            special = () =>
              Response.json({
                result: "allow",
                expire_at: exp,
                client_attrs: { role: "admin" },
                acl: [{ permission: "allow", action: "publish", topic: "t/${clientid}" }],
              });
            const r = await answer();
            assert.ok(
              r.result === "allow" && r.expireAt === exp * 1000 &&
                r.clientAttrs?.role === "admin" && r.acl?.length === 1,
            );
          } finally {
            special = null;
            await chain.close();
          }
        },
      );
      await t.step(
        "placeholders arrive as values: JSON body, header, URL-encoded query",
        async () => {
          const get = createAuthenticationChain([
            authnConfig("username", 2000, {
              method: "get",
              url: `${base}/auth?u=\${username}`,
              body: {},
            }),
          ]);
          const post = createAuthenticationChain([authnConfig("username", 2000)]);
          try {
            for (const nasty of NASTY) {
              seen.length = 0;
              await post.authenticate(client({ username: nasty, clientId: nasty, pw: "p" }));
              assert.equal(seen[0]?.body.key, nasty);
              assert.equal(seen[0]?.headers.get("content-type"), "application/json");
              assert.equal(
                seen[0]?.headers.get("x-client"),
                nasty.replace(/[\r\n]/g, ""),
                "CR/LF never reach a header",
              );
              await get.authenticate(client({ username: nasty, pw: "p" }));
              assert.equal(seen[1]?.method, "GET");
              assert.equal(seen[1]?.url.searchParams.get("u"), nasty);
              assert.equal(seen[1]?.url.pathname, "/auth");
              assert.equal(
                seen[1]?.headers.get("content-type"),
                null,
                "GET carries no content-type",
              );
            }
          } finally {
            await get.close();
            await post.close();
          }
        },
      );
      await backendContracts(t, authn, authz);
    } finally {
      resume();
      if (!abort.signal.aborted) abort.abort();
      await server.finished;
    }
  },
});
