import assert from "node:assert/strict";
import { MqttError } from "./errors.ts";
import {
  hasWildcard,
  isSysTopic,
  matches,
  parseShared,
  splitLevels,
  validateTopicFilter,
  validateTopicName,
} from "./topic.ts";

function rejects(fn: () => void, code: number, message?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MqttError);
    assert.equal(e.reasonCode, code);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  });
}

Deno.test("validateTopicName() accepts plain, unicode, empty-level and $ topics", () => {
  for (const t of ["a", "a/b/c", "/", "a//b", "$SYS/uptime", "温度/传感器", "🙂/x", "a b"]) {
    validateTopicName(t, 0);
  }
});

Deno.test("validateTopicName() throws 0x90 for empty, wildcard and U+0000 names", () => {
  rejects(() => validateTopicName("", 0), 0x90, 'Cannot use topic name "": it is empty');
  rejects(() => validateTopicName("a/+", 0), 0x90);
  rejects(() => validateTopicName("a/#", 0), 0x90);
  rejects(() => validateTopicName("a+b", 0), 0x90);
  rejects(() => validateTopicName("a\u0000b", 0), 0x90);
  rejects(() => validateTopicName("a\ud800", 0), 0x90);
});

Deno.test("validateTopicName() counts UTF-8 bytes, not characters, against 65535", () => {
  validateTopicName("x".repeat(65535), 0);
  rejects(() => validateTopicName("x".repeat(65536), 0), 0x90);
  // 21846 × U+20AC is 65538 bytes in UTF-8 though only 21846 UTF-16 units.
  rejects(() => validateTopicName("€".repeat(21846), 0), 0x90);
  validateTopicName("€".repeat(21845), 0);
  // A surrogate pair is 4 bytes: 16384 × 4 = 65536.
  rejects(() => validateTopicName("🙂".repeat(16384), 0), 0x90);
});

Deno.test("validateTopicName() enforces maxLevels when it is above 0", () => {
  validateTopicName("a/b/c", 3);
  rejects(
    () => validateTopicName("a/b/c/d", 3),
    0x90,
    'Cannot use topic name "a/b/c/d": it has 4 levels, more than the 3 allowed',
  );
  validateTopicName("a/".repeat(500), 0);
});

Deno.test("validateTopicFilter() accepts wildcards that fill whole levels", () => {
  for (const f of ["#", "+", "a/+/b", "a/#", "+/+", "/#", "+/#", "$SYS/#", "a//+", "/+/"]) {
    validateTopicFilter(f, 0);
  }
});

Deno.test("validateTopicFilter() throws 0x8F with a std-style message for misplaced wildcards", () => {
  rejects(
    () => validateTopicFilter("a/#/b", 0),
    0x8f,
    `Cannot use topic filter "a/#/b": '#' must be the last level`,
  );
  rejects(
    () => validateTopicFilter("a/b#", 0),
    0x8f,
    `Cannot use topic filter "a/b#": '#' must occupy a whole level`,
  );
  rejects(
    () => validateTopicFilter("a+/b", 0),
    0x8f,
    `Cannot use topic filter "a+/b": '+' must occupy a whole level`,
  );
  rejects(() => validateTopicFilter("a/+b", 0), 0x8f);
  rejects(() => validateTopicFilter("#/", 0), 0x8f);
  rejects(() => validateTopicFilter("##", 0), 0x8f);
  rejects(() => validateTopicFilter("", 0), 0x8f);
  rejects(() => validateTopicFilter("a\u0000", 0), 0x8f);
});

Deno.test("validateTopicFilter() checks $share and $queue forms and their inner filter", () => {
  validateTopicFilter("$share/g1/a/+", 0);
  validateTopicFilter("$share/g1/#", 0);
  validateTopicFilter("$queue/a/#", 0);
  for (const f of ["$share/g", "$share//a", "$share/g+/a", "$share/g#/a", "$share/g/", "$queue/"]) {
    rejects(() => validateTopicFilter(f, 0), 0x8f);
  }
  rejects(() => validateTopicFilter("$share/g/a/#/b", 0), 0x8f);
  // Levels are counted on the inner filter.
  validateTopicFilter("$share/g/a/b", 2);
  rejects(() => validateTopicFilter("$share/g/a/b/c", 2), 0x8f);
});

Deno.test("splitLevels() keeps empty levels", () => {
  assert.deepEqual(splitLevels("/a//b/"), ["", "a", "", "b", ""]);
  assert.deepEqual(splitLevels("a"), ["a"]);
});

Deno.test("isSysTopic() is true only for a leading '$'", () => {
  assert.ok(isSysTopic("$SYS/x"));
  assert.ok(isSysTopic("$share/g/x"));
  assert.ok(!isSysTopic("a/$SYS"));
  assert.ok(!isSysTopic(""));
});

Deno.test("parseShared() splits $share and $queue and returns null otherwise", () => {
  assert.deepEqual(parseShared("$share/g1/a/b/#"), { group: "g1", filter: "a/b/#" });
  assert.deepEqual(parseShared("$queue/jobs/+"), { group: "$queue", filter: "jobs/+" });
  assert.equal(parseShared("a/b"), null);
  assert.equal(parseShared("$share/g"), null);
  assert.equal(parseShared("$share//a"), null);
  assert.equal(parseShared("$share/+/a"), null);
  assert.equal(parseShared("$SHARE/g/a"), null);
});

Deno.test("hasWildcard() spots '+' and '#'", () => {
  assert.ok(hasWildcard("a/+") && hasWildcard("#") && !hasWildcard("a/b"));
});

Deno.test("matches() follows the examples of section 4.7", () => {
  const yes: [string, string][] = [
    ["sport/tennis/player1/#", "sport/tennis/player1"],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking"],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"],
    ["sport/#", "sport"],
    ["sport/tennis/+", "sport/tennis/player1"],
    ["sport/+", "sport/"],
    ["+/+", "/finance"],
    ["/+", "/finance"],
    ["#", "a/b/c"],
    ["#", "/"],
    ["$SYS/#", "$SYS/monitor/Clients"],
    ["$SYS/monitor/+", "$SYS/monitor/Clients"],
    ["a/b", "a/b"],
    ["+", "a"],
    ["a/+/c", "a//c"],
  ];
  const no: [string, string][] = [
    ["sport/tennis/+", "sport/tennis/player1/ranking"],
    ["sport/+", "sport"],
    ["+", "/finance"],
    ["#", "$SYS/monitor/Clients"],
    ["+/monitor/Clients", "$SYS/monitor/Clients"],
    ["a/b", "a/bc"],
    ["a/bc", "a/b"],
    ["a/b", "a"],
    ["a", "a/b"],
    ["a/+", "a/b/c"],
    ["b/#", "a"],
  ];
  for (const [f, t] of yes) assert.ok(matches(f, t), `${f} should match ${t}`);
  for (const [f, t] of no) assert.ok(!matches(f, t), `${f} should not match ${t}`);
});
