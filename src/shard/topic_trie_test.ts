import assert from "node:assert/strict";
import { matches } from "../mqtt/topic.ts";
import { TopicTrie } from "./topic_trie.ts";

function matched<V>(trie: TopicTrie<V>, topic: string): string[] {
  const seen: string[] = [];
  trie.match(topic, (filter) => seen.push(filter));
  return seen.sort();
}

Deno.test("TopicTrie.match() visits '#' for the parent level", () => {
  const trie = new TopicTrie<number>();
  trie.add("a/#", "k", 1);
  trie.add("+/#", "k", 1);
  assert.deepEqual(matched(trie, "a"), ["+/#", "a/#"]);
  assert.deepEqual(matched(trie, "a/b/c"), ["+/#", "a/#"]);
  assert.deepEqual(matched(trie, "b"), ["+/#"]);
});

Deno.test("TopicTrie.match() applies '+' to exactly one level, empty levels included", () => {
  const trie = new TopicTrie<number>();
  for (const f of ["a/+", "+/+", "+", "a/+/c", "/+"]) trie.add(f, "k", 1);
  assert.deepEqual(matched(trie, "a/b"), ["+/+", "a/+"]);
  assert.deepEqual(matched(trie, "a"), ["+"]);
  assert.deepEqual(matched(trie, "a/"), ["+/+", "a/+"]);
  assert.deepEqual(matched(trie, "/x"), ["+/+", "/+"]);
  assert.deepEqual(matched(trie, "a/b/c"), ["a/+/c"]);
  assert.deepEqual(matched(trie, "a/b/c/d"), []);
});

Deno.test("TopicTrie.match() skips first-level wildcards for $-topics", () => {
  const trie = new TopicTrie<number>();
  for (const f of ["#", "+/x", "$SYS/#", "$SYS/+", "$SYS/x"]) trie.add(f, "k", 1);
  assert.deepEqual(matched(trie, "$SYS/x"), ["$SYS/#", "$SYS/+", "$SYS/x"]);
  assert.deepEqual(matched(trie, "a/x"), ["#", "+/x"]);
});

Deno.test("TopicTrie.match() passes each filter's entries and uses the exact map for plain filters", () => {
  const trie = new TopicTrie<string>();
  trie.add("a/b", "c1", "x");
  trie.add("a/b", "c2", "y");
  const seen: [string, [string, string][]][] = [];
  trie.match("a/b", (f, e) => seen.push([f, [...e]]));
  assert.deepEqual(seen, [["a/b", [["c1", "x"], ["c2", "y"]]]]);
  assert.deepEqual(matched(trie, "a/c"), []);
});

Deno.test("TopicTrie.add() returns true only for a filter's first key", () => {
  const trie = new TopicTrie<number>();
  assert.equal(trie.add("a/+", "k1", 1), true);
  assert.equal(trie.add("a/+", "k2", 2), false);
  assert.equal(trie.add("a/+", "k1", 3), false); // replaces the value
  assert.equal(trie.get("a/+")?.get("k1"), 3);
  assert.equal(trie.add("a/b", "k1", 1), true);
  assert.equal(trie.add("#", "k1", 1), true);
  assert.equal(trie.size, 3);
});

Deno.test("TopicTrie.remove() returns true when the filter loses its last key", () => {
  const trie = new TopicTrie<number>();
  trie.add("a/+/#", "k1", 1);
  trie.add("a/+/#", "k2", 1);
  trie.add("x", "k1", 1);
  assert.equal(trie.remove("a/+/#", "k3"), false);
  assert.equal(trie.remove("a/+", "k1"), false);
  assert.equal(trie.remove("nope/#", "k1"), false);
  assert.equal(trie.remove("a/+/#", "k1"), false);
  assert.equal(trie.remove("a/+/#", "k2"), true);
  assert.equal(trie.remove("a/+/#", "k2"), false);
  assert.equal(trie.get("a/+/#"), undefined);
  assert.equal(trie.remove("x", "k1"), true);
  assert.equal(trie.size, 0);
  assert.deepEqual([...trie.filters()], []);
  assert.deepEqual(matched(trie, "a/b/c"), []);
});

Deno.test("TopicTrie.remove() keeps sibling filters that share a path", () => {
  const trie = new TopicTrie<number>();
  for (const f of ["a/#", "a/+", "a/+/#", "a/b/+"]) trie.add(f, "k", 1);
  assert.equal(trie.remove("a/+", "k"), true);
  assert.deepEqual(matched(trie, "a/b/c"), ["a/#", "a/+/#", "a/b/+"]);
  assert.equal(trie.remove("a/#", "k"), true);
  assert.deepEqual(matched(trie, "a/b"), ["a/+/#"]);
  assert.deepEqual([...trie.filters()].sort(), ["a/+/#", "a/b/+"]);
});

Deno.test("TopicTrie.filters() lists every filter once and size counts them", () => {
  const trie = new TopicTrie<number>();
  const filters = ["#", "+", "a", "a/b", "a/+", "a/#", "+/+/#", "$SYS/#", "/"];
  for (const f of filters) trie.add(f, "k", 1);
  assert.deepEqual([...trie.filters()].sort(), [...filters].sort());
  assert.equal(trie.size, filters.length);
});

// Deterministic PRNG (mulberry32) so a failure reproduces.
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("TopicTrie.match() agrees with matches() on random filters and topics", () => {
  const rand = prng(20240611);
  const words = ["a", "b", "c", "", "$SYS", "$x"];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const topic = () => {
    const n = 1 + Math.floor(rand() * 4);
    const t = Array.from({ length: n }, () => pick(words)).join("/");
    return t === "" ? "a" : t; // topic names are never empty
  };
  const filter = () => {
    const n = 1 + Math.floor(rand() * 4);
    const levels = Array.from({ length: n }, () => (rand() < 0.3 ? "+" : pick(words)));
    if (rand() < 0.25) levels[n - 1] = "#";
    const f = levels.join("/");
    return f === "" ? "b" : f;
  };
  for (let round = 0; round < 20; round++) {
    const trie = new TopicTrie<number>();
    const live = new Map<string, Set<string>>();
    for (let i = 0; i < 300; i++) {
      const f = filter();
      const key = `k${Math.floor(rand() * 3)}`;
      if (rand() < 0.7) {
        const first = !live.has(f);
        assert.equal(trie.add(f, key, i), first, `add ${f}`);
        live.set(f, (live.get(f) ?? new Set()).add(key));
      } else {
        const keys = live.get(f);
        const last = keys !== undefined && keys.has(key) && keys.size === 1;
        assert.equal(trie.remove(f, key), last, `remove ${f} ${key}`);
        keys?.delete(key);
        if (keys?.size === 0) live.delete(f);
      }
    }
    assert.equal(trie.size, live.size);
    assert.deepEqual([...trie.filters()].sort(), [...live.keys()].sort());
    for (let i = 0; i < 300; i++) {
      const t = topic();
      const seen: string[] = [];
      trie.match(t, (f, entries) => {
        seen.push(f);
        assert.deepEqual([...entries.keys()].sort(), [...live.get(f)!].sort());
      });
      const expected = [...live.keys()].filter((f) => matches(f, t)).sort();
      assert.deepEqual(seen.sort(), expected, `topic ${JSON.stringify(t)}`);
    }
  }
});
