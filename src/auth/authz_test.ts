/**
 * Unit tests of the ACL model, the acl.conf parser, the Authorizer and its cache. In-memory
 * sources only (the networked ones run against real servers in tests/).
 */

import assert from "node:assert/strict";
import { matchTopicWords } from "./acl_rule.ts";
import { parseAclFile } from "./acl_file.ts";
import { Authorizer, createAuthorizer } from "./authorizer.ts";
import { AclStore } from "./authz/file.ts";
import type { AuthzClient, AuthzSource, SourceAnswer } from "./types.ts";
import type { AuthorizationConfig } from "../config/types_auth.ts";
import { pub, sub } from "../../tests/_helpers/auth_contract_authz.ts";

function client(over: Partial<AuthzClient> = {}): AuthzClient {
  return {
    clientId: "c1",
    username: "u1",
    peerhost: "10.1.2.3",
    peerport: 5000,
    listener: "tcp:default",
    zone: "default",
    protocolVersion: 5,
    superuser: false,
    ...over,
  };
}

function config(rules: string, over: Partial<AuthorizationConfig> = {}): AuthorizationConfig {
  return {
    noMatch: "deny",
    denyAction: "ignore",
    cache: { enable: false, maxSize: 32, ttl: 60_000, excludes: [] },
    sources: [{ type: "file", enable: true, path: "", rules }],
    ...over,
  };
}

Deno.test("matchTopicWords() follows emqx_topic:match for requested filters", () => {
  const m = (name: string, filter: string) => matchTopicWords(name.split("/"), filter.split("/"));
  assert.equal(m("a/b", "a/+"), true);
  assert.equal(m("a", "a/#"), true);
  assert.equal(m("a/+", "a/#"), true);
  assert.equal(m("a/#", "a/+"), true, "a rule '+' covers any one requested word, '#' included");
  assert.equal(m("a/+", "a/b"), false, "a wildcard request is not covered by a literal rule");
  assert.equal(m("#", "+/#"), true);
  assert.equal(
    m("$SYS/x", "#"),
    false,
    "[MQTT-4.7.2-1] $ topics are not matched by a leading wildcard",
  );
  assert.equal(m("$SYS/x", "$SYS/#"), true);
  assert.equal(m("a/b/c", "a/+"), false);
});

Deno.test("parseAclFile() reads EMQX's default acl.conf and every documented form", () => {
  const rules = parseAclFile(
    Deno.readTextFileSync(new URL("../../config/acl.conf", import.meta.url)),
  );
  assert.equal(rules.length, 4);
  const more = parseAclFile(`
    %% comment
    {allow, {'and', [{clientid, {re, "^dev-"}}, {ipaddrs, ["10.0.0.0/8", "::1"]}]}, {publish, [{qos, [1, 2]}, {retain, false}]}, ["\${clientid}/#"]}.
    {deny, {'or', [{user, "a"}, {client, "b"}]}, all, all}.
  `);
  assert.equal(more.length, 2);
  assert.equal(more[0]?.line, 3);
  assert.deepEqual(more[0]?.action, { type: "publish", qos: [1, 2], retain: false });
});

Deno.test("parseAclFile() names the line of a syntax error", () => {
  const bad = [
    [`{allow, all}.\n{allow, {username, "u"}, publish, ["t"]`, /line 2: expected "," or "}"/],
    [`{allow, all}.\n{allow, all}\n{allow, all}.`, /line 3: expected "\." at the end/],
    [`{allow, all}.\n\n{permit, all}.`, /line 3: expected allow or deny/],
    [`{allow, {ipaddr, "300.1.1.1"}, all, ["t"]}.`, /line 1: "300.1.1.1" is not an IP address/],
    [`{allow, {username, {re, "("}}, all, ["t"]}.`, /line 1: bad regular expression/],
    [`{allow, all, publish, ["t/\${password}"]}.`, /line 1: Unknown placeholder/],
    [`{allow, all, {publish, [{qos, 3}]}, ["t"]}.`, /line 1: expected qos 0, 1, 2/],
    [`{allow, all, publish, ["t"]}.\n{allow, all, publish, "t"}.`, /line 2: expected Topics/],
    [`{allow, {client_attr, "a", "b"}, all, ["t"]}.`, /line 1: expected Who/],
  ] as const;
  for (const [text, re] of bad) {
    assert.throws(
      () => parseAclFile(text),
      (e: Error) => e instanceof SyntaxError && re.test(e.message),
    );
  }
});

Deno.test("Authorizer.authorize() applies EMQX's default acl.conf", () => {
  const authz = createAuthorizer(config("", { noMatch: "allow" }));
  const local = client({ peerhost: "127.0.0.1" });
  assert.equal(authz.authorize(client(), sub("#")), "deny");
  assert.equal(authz.authorize(client(), sub("+/#")), "deny");
  assert.equal(authz.authorize(client(), sub("$SYS/brokers")), "deny");
  assert.equal(authz.authorize(client(), sub("a/#")), "allow");
  assert.equal(authz.authorize(client(), pub("a/b")), "allow");
  assert.equal(authz.authorize(local, sub("#")), "allow");
  assert.equal(authz.authorize(local, sub("$SYS/#")), "allow");
  assert.equal(authz.authorize(client({ username: "dashboard" }), sub("$SYS/x")), "allow");
});

Deno.test("Authorizer.authorize() matches who, action conditions and placeholders", () => {
  const authz = createAuthorizer(config(`
    {allow, {username, "u1"}, {publish, [{qos, [0, 1]}, {retain, false}]}, ["t/\${username}/\${clientid}"]}.
    {allow, {ipaddr, "10.0.0.0/8"}, subscribe, [{eq, "x/#"}]}.
    {deny, all}.
  `));
  assert.equal(authz.authorize(client(), pub("t/u1/c1", 1)), "allow");
  assert.equal(authz.authorize(client(), pub("t/u1/c1", 2)), "deny", "qos condition");
  assert.equal(authz.authorize(client(), pub("t/u1/c1", 0, true)), "deny", "retain condition");
  assert.equal(authz.authorize(client(), pub("t/u1/c2")), "deny", "placeholder is per client");
  assert.equal(authz.authorize(client({ username: "u2" }), pub("t/u2/c1")), "deny", "who");
  assert.equal(authz.authorize(client(), sub("x/#")), "allow", "eq matches the literal filter");
  assert.equal(authz.authorize(client(), sub("x/1")), "deny", "eq is not a wildcard match");
  assert.equal(authz.authorize(client({ peerhost: "11.0.0.1" }), sub("x/#")), "deny");
  assert.equal(
    authz.authorize(client({ username: undefined }), pub("t//c1")),
    "deny",
    "no username: no match",
  );
});

Deno.test("Authorizer: superusers skip, the client ACL comes first, no_match decides last", () => {
  const authz = createAuthorizer(config(`{deny, all, publish, ["t/#"]}.`, { noMatch: "allow" }));
  assert.equal(authz.authorize(client({ superuser: true }), pub("t/1")), "allow");
  assert.equal(authz.authorize(client(), pub("t/1")), "deny");
  assert.equal(authz.authorize(client(), pub("other")), "allow");
  const acl = parseAclFile(`{allow, all, publish, ["t/1"]}.`);
  assert.equal(authz.authorize(client({ acl }), pub("t/1")), "allow");
  assert.equal(authz.metrics.get("authorization.superuser"), 1);
  assert.equal(authz.metrics.get("authorization.nomatch"), 1);
});

/** A source that counts its calls and answers later. */
class SlowSource implements AuthzSource {
  readonly type = "http";
  calls = 0;
  constructor(readonly answer: SourceAnswer) {}
  authorize(): Promise<SourceAnswer> {
    this.calls++;
    return Promise.resolve(this.answer);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("Authorizer: a cached decision is synchronous and costs no source call", async () => {
  const slow = new SlowSource("allow");
  let now = 1000;
  const authz = new Authorizer(
    config("", { cache: { enable: true, maxSize: 2, ttl: 100, excludes: ["nocache/#"] } }),
    [slow],
    { now: () => now },
  );
  const first = authz.authorize(client(), pub("t/1"));
  assert.ok(first instanceof Promise);
  assert.equal(await first, "allow");
  assert.equal(authz.authorize(client(), pub("t/1")), "allow", "second answer is synchronous");
  assert.equal(slow.calls, 1);
  assert.equal(authz.metrics.get("authorization.cache_hit"), 1);
  now += 101;
  assert.ok(authz.authorize(client(), pub("t/1")) instanceof Promise, "ttl expired");
  await authz.authorize(client(), pub("t/2"));
  await authz.authorize(client(), pub("t/3"));
  assert.equal(authz.cacheSize("c1"), 2, "max_size per client");
  assert.ok(
    authz.authorize(client({ username: "other" }), pub("t/3")) instanceof Promise,
    "another identity",
  );
  await authz.authorize(client(), pub("nocache/1"));
  assert.ok(authz.authorize(client(), pub("nocache/1")) instanceof Promise, "excluded topic");
  authz.clientClosed("c1");
  assert.equal(authz.cacheSize("c1"), 0);
});

Deno.test("Authorizer.reload() re-reads the file, clears the cache, keeps old rules on error", () => {
  const path = Deno.makeTempFileSync({ suffix: ".conf" });
  try {
    Deno.writeTextFileSync(path, `{allow, all, publish, ["t"]}.`);
    const authz = createAuthorizer({
      ...config(""),
      sources: [{ type: "file", enable: true, path, rules: "" }],
      cache: { enable: true, maxSize: 8, ttl: 60_000, excludes: [] },
    });
    assert.equal(authz.authorize(client(), pub("t")), "allow");
    Deno.writeTextFileSync(path, `{deny, all, publish, ["t"]}.`);
    authz.reload();
    assert.equal(authz.authorize(client(), pub("t")), "deny");
    Deno.writeTextFileSync(path, `{deny, all, publish, ["t"]`);
    assert.throws(() => authz.reload(), /line 1/);
    assert.equal(authz.authorize(client(), pub("t")), "deny");
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("built_in_database source: username rules, then client id rules, then all", () => {
  const store = new AclStore(2);
  store.set("username", "u1", [{ permission: "deny", action: "publish", topic: "a/#" }]);
  store.set("clientid", "c1", [{ permission: "allow", action: "all", topic: "a/b" }, {
    permission: "allow",
    action: "subscribe",
    topic: "eq s/#",
  }]);
  store.set("all", "", [{
    permission: "allow",
    action: "publish",
    topic: "p/+",
    qos: "0,1",
    retain: "all",
  }]);
  assert.throws(() => store.set("clientid", "c2", [{}, {}, {}] as never), /max_rules/);
  const authz = createAuthorizer({
    ...config(""),
    sources: [{ type: "built_in_database", enable: true, maxRules: 2 }],
  }, { aclStore: store });
  assert.equal(authz.authorize(client(), pub("a/b")), "deny");
  assert.equal(authz.authorize(client({ username: "u2" }), pub("a/b")), "allow");
  assert.equal(authz.authorize(client(), sub("s/#")), "allow");
  assert.equal(authz.authorize(client(), pub("p/1", 1)), "allow");
  assert.equal(authz.authorize(client(), pub("p/1", 2)), "deny");
});
