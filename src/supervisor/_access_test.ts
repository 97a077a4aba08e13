/** Unit tests of access_rules matching (src/supervisor/_access.ts). */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseAccessRule } from "../config/mod.ts";
import { AccessRules, hostOf } from "./_access.ts";

function rules(...texts: string[]): AccessRules {
  return new AccessRules(texts.map((t) => parseAccessRule(t)!));
}

Deno.test("AccessRules.allows() takes the first matching rule", () => {
  const r = rules("deny 10.1.0.0/16", "allow 10.0.0.0/8", "deny all");
  assertEquals(r.allows("10.2.3.4"), true);
  assertEquals(r.allows("10.1.3.4"), false);
  assertEquals(r.allows("192.168.1.1"), false);
  assertEquals(r.allows("::ffff:10.2.3.4"), true);
});

Deno.test("AccessRules.allows() allows when nothing matches and handles IPv6 prefixes", () => {
  const r = rules("deny 2001:db8::/32", "deny 127.0.0.2");
  assertEquals(r.allows("2001:db8:1::5"), false);
  assertEquals(r.allows("2001:db9::1"), true);
  assertEquals(r.allows("127.0.0.2"), false);
  assertEquals(r.allows("127.0.0.1"), true);
  assertEquals(r.allows("[::1]"), true);
  assertEquals(rules("allow all").allowsAll, true);
  assertEquals(rules("deny 1.2.3.4", "allow all").allowsAll, false);
});

Deno.test("parseAccessRule() refuses malformed rules", () => {
  assertEquals(parseAccessRule("allow 10.0.0.0/33"), undefined);
  assertEquals(parseAccessRule("permit all"), undefined);
  assertEquals(parseAccessRule("deny 300.1.1.1"), undefined);
  assertEquals(hostOf("[::1]:1883"), "::1");
  assertEquals(hostOf("10.0.0.1:5"), "10.0.0.1");
});
