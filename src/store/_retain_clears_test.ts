import assert from "node:assert/strict";
import { CLEAR_KEEP_MAX, CLEAR_KEEP_MS, RecentClears } from "./_retain_clears.ts";

Deno.test("RecentClears: a clear is kept only once its transaction commits", () => {
  const c = new RecentClears(() => 0);
  c.begin();
  c.cleared("a", 100);
  assert.equal(c.clearedAt("a"), 100, "seen inside its own transaction");
  // Rolled back: the next transaction starts without it.
  c.begin();
  assert.equal(c.clearedAt("a"), undefined);
  c.cleared("a", 100);
  c.committed();
  c.begin();
  assert.equal(c.clearedAt("a"), 100);
  // A later local write: the row decides from then on.
  c.written("a");
  assert.equal(c.clearedAt("a"), undefined, "staged");
  c.committed();
  assert.equal(c.size, 0);
});

Deno.test("RecentClears: the later of two clears counts; old and excess clears are forgotten", () => {
  let now = 0;
  const c = new RecentClears(() => now);
  c.begin();
  c.cleared("a", 200);
  c.cleared("a", 100);
  c.committed();
  assert.equal(c.clearedAt("a"), 200);
  now = CLEAR_KEEP_MS - 1;
  c.begin();
  c.cleared("b", 300);
  c.committed();
  assert.equal(c.size, 2);
  now = CLEAR_KEEP_MS;
  c.begin();
  c.committed();
  assert.deepEqual([c.clearedAt("a"), c.clearedAt("b")], [undefined, 300], "a outlived its keep");
  c.begin();
  for (let i = 0; i <= CLEAR_KEEP_MAX; i++) c.cleared(`t${i}`, i);
  c.committed();
  assert.equal(c.size, CLEAR_KEEP_MAX, "bounded");
  assert.equal(c.clearedAt("b"), undefined, "the oldest went first");
});
