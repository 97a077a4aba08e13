import assert from "node:assert/strict";
import { RouteTable, ShardMatch } from "./route_table.ts";

function shardsOf(match: ShardMatch): number[] {
  const out: number[] = [];
  for (let k = 0; k < match.size; k++) out.push(match.at(k));
  return out.sort();
}

Deno.test("RouteTable.matchShards() lists each matching shard once and starts empty each time", () => {
  const routes = new RouteTable();
  routes.add("a/+", 2);
  routes.add("a/#", 2);
  routes.add("a/b", 0);
  routes.add("c", 1);
  const match = new ShardMatch(3);
  assert.deepEqual(shardsOf(routes.matchShards("a/b", match)), [0, 2]);
  assert.equal(match.has(2), true);
  assert.equal(match.has(1), false);
  // The same object, reused for the next message, holds only that message's shards.
  assert.deepEqual(shardsOf(routes.matchShards("c", match)), [1]);
  assert.equal(match.has(0), false);
  assert.equal(match.has(2), false);
  assert.deepEqual(shardsOf(routes.matchShards("x", match)), []);
  routes.removeShard(2);
  assert.deepEqual(shardsOf(routes.matchShards("a/b", match)), [0]);
});

Deno.test("ShardMatch ignores indexes outside the shard count", () => {
  const match = new ShardMatch(2);
  match.add(5);
  match.add(-1);
  match.add(1);
  match.add(1);
  assert.equal(match.size, 1);
  assert.equal(match.at(0), 1);
});
