/**
 * Unit tests of bans, flapping detection, token buckets, CIDR matching and placeholder
 * rendering (the escaping that keeps client text out of commands).
 */

import assert from "node:assert/strict";
import { Banned, createBanned } from "./banned.ts";
import { FlappingDetector } from "./flapping.ts";
import { ipInCidr, parseCidr } from "./ip.ts";
import { ClientLimiter, parseRate, TokenBucket } from "./limiter.ts";
import {
  AUTHN_VARS,
  escapeLdapDn,
  escapeLdapFilter,
  headerValue,
  parseCommand,
  parseSql,
  parseTemplate,
  render,
  renderMap,
  sqlValues,
} from "./_template.ts";

const who = (clientId: string, username?: string, peerhost = "10.0.0.1") => ({
  clientId,
  username,
  peerhost,
});

Deno.test("Banned: exact, regex and network bans; expiry; duplicates; bootstrap CSV", () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const b = new Banned(() => now);
  b.add({ as: "clientid", who: "bad" });
  b.add({ as: "username", who: "eve", until: now + 1000 });
  b.add({ as: "peerhost", who: "10.9.9.9" });
  b.add({ as: "clientid_re", who: "^spam-" });
  b.add({ as: "username_re", who: "^bot\\d+$" });
  b.add({ as: "peerhost_net", who: "192.168.0.0/16" });
  assert.equal(b.isBanned(who("bad"))?.by, "mgmt_api");
  assert.equal(b.isBanned(who("ok", "eve"))?.as, "username");
  assert.equal(b.isBanned(who("ok", undefined, "10.9.9.9"))?.as, "peerhost");
  assert.equal(b.isBanned(who("spam-1"))?.as, "clientid_re");
  assert.equal(b.isBanned(who("ok", "bot42"))?.as, "username_re");
  assert.equal(b.isBanned(who("ok", undefined, "192.168.3.4"))?.as, "peerhost_net");
  assert.equal(b.isBanned(who("ok", "alice")), null);
  assert.equal(b.isBannedPeer("192.168.1.1")?.as, "peerhost_net");
  assert.equal(b.isBannedPeer("10.0.0.1"), null);
  assert.ok("exists" in b.add({ as: "clientid", who: "bad" }));
  assert.throws(() => b.add({ as: "clientid_re", who: "(" }), /bad regular expression/);
  assert.throws(() => b.add({ as: "peerhost_net", who: "10.0.0.0/33" }), /not a CIDR/);
  assert.throws(() => b.add({ as: "clientid", who: "x", until: now - 1 }), /future/);
  now += 1001;
  assert.equal(b.isBanned(who("ok", "eve")), null, "expired");
  assert.equal(b.list().length, 5);
  assert.equal(b.delete("clientid", "bad"), true);
  assert.equal(b.delete("clientid", "bad"), false);
  const csv =
    `as,who,reason,at,until,by\nclientid,c1,spam,2024-01-01T00:00:00Z,infinity,admin\nusername,u1,,,${
      Math.floor(now / 1000) + 60
    },\n` +
    `clientid,old,,,2000-01-01T00:00:00Z,\n`;
  assert.equal(b.loadBootstrap(csv), 2, "the expired row is skipped");
  assert.equal(b.isBanned(who("c1"))?.reason, "spam");
  assert.equal(b.isBanned(who("x", "u1"))?.by, "boot_loader");
  assert.throws(() => b.loadBootstrap("as,who\nnope,x\n"), /line 2: "as" must be one of/);
});

Deno.test("FlappingDetector bans after max_count disconnects inside window_time", () => {
  const banned = new Banned(() => 0);
  const d = new FlappingDetector({
    enable: true,
    windowTime: 60_000,
    maxCount: 3,
    banTime: 300_000,
  }, banned);
  for (let i = 0; i < 3; i++) assert.equal(d.recordDisconnect("c1", i * 1000), null);
  const ban = d.recordDisconnect("c1", 4000);
  assert.deepEqual(ban, {
    as: "clientid",
    who: "c1",
    by: "flapping detector",
    reason: "flapping is detected",
    at: 4000,
    until: 304_000,
  });
  assert.equal(banned.isBanned(who("c1"))?.by, "flapping detector");
  for (let i = 0; i < 3; i++) d.recordDisconnect("c2", i * 30_000);
  assert.equal(d.recordDisconnect("c2", 100_000), null, "a new window started");
  const off = new FlappingDetector({ enable: false, windowTime: 1, maxCount: 1, banTime: 1 });
  for (let i = 0; i < 5; i++) assert.equal(off.recordDisconnect("c", i), null);
});

Deno.test("parseRate() reads EMQX's syntax", () => {
  assert.deepEqual(parseRate("1000/s"), { tokens: 1000, periodMs: 1000 });
  assert.deepEqual(parseRate("500/10s"), { tokens: 500, periodMs: 10_000 });
  assert.deepEqual(parseRate("10MB/10s"), { tokens: 10 * 1024 * 1024, periodMs: 10_000 });
  assert.deepEqual(parseRate("100/m"), { tokens: 100, periodMs: 60_000 });
  assert.equal(parseRate("infinity")?.tokens, Infinity);
  assert.equal(parseRate("fast"), null);
  assert.equal(parseRate("0/s"), null);
});

Deno.test("TokenBucket answers how long to pause and never refuses what was read", () => {
  const b = new TokenBucket({ tokens: 10, periodMs: 1000 }, 0);
  assert.equal(b.consume(10, 0), 0);
  assert.equal(b.consume(5, 0), 500, "5 tokens owed at 10/s");
  assert.equal(b.consume(0, 250), 250);
  assert.equal(b.consume(0, 500), 0);
  assert.equal(b.tryTake(500), 100, "admission waits for one whole token");
  assert.equal(b.tryTake(600), 0);
  const c = new ClientLimiter({ messagesRate: { tokens: 2, periodMs: 1000 }, bytesRate: null }, 0);
  assert.equal(c.onBytes(1_000_000, 0), 0);
  assert.equal(c.onPublish(0), 0);
  assert.equal(c.onPublish(0), 0);
  assert.equal(c.onPublish(0), 500);
  assert.equal(new ClientLimiter({}, 0).unlimited, true);
});

Deno.test("parseCidr() / ipInCidr() for IPv4, IPv6 and IPv4-mapped peers", () => {
  const net = parseCidr("10.0.0.0/8");
  assert.ok(net);
  assert.equal(ipInCidr("10.255.0.1", net), true);
  assert.equal(ipInCidr("11.0.0.1", net), false);
  assert.equal(ipInCidr("::ffff:10.1.1.1", net), true);
  const v6 = parseCidr("2001:db8::/32");
  assert.ok(v6);
  assert.equal(ipInCidr("2001:db8:1::5", v6), true);
  assert.equal(ipInCidr("2001:db9::5", v6), false);
  assert.equal(ipInCidr("::1", parseCidr("::1")!), true);
  assert.equal(ipInCidr("10.0.0.7", parseCidr("10.0.0.6/31")!), true);
  for (const bad of ["10.0.0.0/33", "300.0.0.1", "1::2::3", "x", "10.0.0.0/8/1"]) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

Deno.test("templates keep client text out of commands (parameters, arguments, escaping)", () => {
  const vars = { username: "x' OR '1'='1", clientid: "a b", password: "p\r\nX-Evil: 1" };
  const sql = parseSql(
    "SELECT * FROM t WHERE u = ${username} AND c = ${clientid}",
    AUTHN_VARS,
    (i) => `$${i}`,
  );
  assert.equal(sql.sql, "SELECT * FROM t WHERE u = $1 AND c = $2");
  assert.deepEqual(sqlValues(sql, vars), ["x' OR '1'='1", "a b"]);
  const cmd = parseCommand("HMGET mqtt_user:${username} password_hash", AUTHN_VARS).map((t) =>
    render(t, { username: "a b\r\nFLUSHALL" })
  );
  assert.deepEqual(
    cmd,
    ["HMGET", "mqtt_user:a b\r\nFLUSHALL", "password_hash"],
    "one argument, whatever it holds",
  );
  assert.equal(
    render(
      parseTemplate("http://h/auth?u=${username}", AUTHN_VARS),
      { username: "a&b=c/../" },
      encodeURIComponent,
    ),
    "http://h/auth?u=a%26b%3Dc%2F..%2F",
  );
  assert.equal(headerValue(render(parseTemplate("${password}", AUTHN_VARS), vars)), "pX-Evil: 1");
  assert.deepEqual(
    renderMap({ username: "${username}", n: 1 }, { username: `{"$ne": null}` }, AUTHN_VARS),
    { username: `{"$ne": null}`, n: 1 },
  );
  assert.equal(escapeLdapFilter("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
  assert.equal(escapeLdapDn("a,ou=x+y"), "a\\,ou\\=x\\+y");
  assert.throws(() => parseTemplate("${nope}", AUTHN_VARS), /Unknown placeholder/);
});

Deno.test("createBanned() loads banned.bootstrap_file and names a bad line", () => {
  const path = Deno.makeTempFileSync({ suffix: ".csv" });
  try {
    Deno.writeTextFileSync(path, "as,who,reason\nclientid,evil,test\npeerhost_net,10.0.0.0/8,\n");
    const b = createBanned({ bootstrapFile: path });
    assert.equal(b.isBanned(who("evil"))?.reason, "test");
    assert.equal(b.isBannedPeer("10.2.3.4")?.as, "peerhost_net");
    assert.equal(createBanned({ bootstrapFile: "" }).list().length, 0);
    Deno.writeTextFileSync(path, "as,who\nclientid,ok\npeerhost,not-an-ip\n");
    assert.throws(
      () => createBanned({ bootstrapFile: path }),
      /line 3: "not-an-ip" is not an IP address/,
    );
  } finally {
    Deno.removeSync(path);
  }
});
