import assert from "node:assert/strict";
import { encodeMessage, type Message } from "../mqtt/mod.ts";
import { olderHere, RetainTombstones } from "./heal.ts";

function retained(topic: string, payload: string, timestamp: number): Uint8Array {
  const m: Message = {
    topic,
    payload: new TextEncoder().encode(payload),
    qos: 0,
    retain: true,
    properties: {},
    origin: "c",
    expiresAt: 0,
    timestamp,
  };
  return encodeMessage(m);
}

Deno.test("RetainTombstones.admit() refuses a copy older than a remembered clear", () => {
  const t = new RetainTombstones(60_000, 10);
  assert.ok(t.admit("a", retained("a", "v1", 100)), "a write");
  assert.ok(t.admit("a", retained("a", "", 200)), "the clear");
  assert.equal(t.admit("a", retained("a", "v1", 100)), false, "older copy after a split");
  assert.equal(t.admit("a", retained("a", "v0", 200)), false, "same time as the clear");
  assert.ok(t.admit("a", retained("a", "v2", 300)), "a newer write");
  assert.ok(t.admit("b", retained("b", "x", 1)), "other topics are not touched");
  assert.equal(t.refused, 2);
  assert.deepEqual([...t.clears()].map(([topic]) => topic), ["a"]);
});

Deno.test("RetainTombstones keeps at most `max` clears, oldest forgotten first; 0 keeps none", () => {
  const t = new RetainTombstones(60_000, 2);
  for (const [i, topic] of ["a", "b", "c"].entries()) t.admit(topic, retained(topic, "", i));
  assert.deepEqual([...t.clears()].map(([topic]) => topic), ["b", "c"]);
  const none = new RetainTombstones(60_000, 0);
  none.admit("a", retained("a", "", 5));
  assert.ok(none.admit("a", retained("a", "old", 1)), "nothing remembered");
});

Deno.test("olderHere() ends the older connection on exactly one side", () => {
  const onA = new Map([["c1", 100], ["c2", 300], ["c3", 50], ["solo", 1]]);
  const onB = new Map([["c1", 200], ["c2", 250], ["c3", 50]]);
  assert.deepEqual(olderHere(onA, onB, "a@h", "b@h").sort(), ["c1", "c3"]);
  assert.deepEqual(olderHere(onB, onA, "b@h", "a@h"), ["c2"]);
});
