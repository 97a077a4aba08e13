/**
 * Retained lookups on a real file: the planner picks the path that reads only what can match,
 * every filter returns exactly what a brute-force `matches()` over all topics returns (also
 * when read page by page), expiry and the `$` rule hold, and SQLite really uses the index
 * (EXPLAIN QUERY PLAN).
 */

import { DatabaseSync } from "node:sqlite";
import { matches } from "../mqtt/mod.ts";
import { planRetained, Store, StoreBatch } from "./mod.ts";
import { assert, assertEquals, cleanup, msg, options, tempDir } from "./_test_util.ts";

const SPECS = [[1, 2, 3], [1, 3], [2, 3], [3]];

Deno.test("planRetained() picks exact, prefix, index or scan", () => {
  const path = (f: string) => {
    const p = planRetained(f, SPECS);
    return `${p.path}:${p.index}`;
  };
  assertEquals(path("a/b/c"), "exact:retained_topic");
  assertEquals(path("a/b/#"), "prefix:retained_topic");
  assertEquals(path("a/+/c"), "index:retained_l1_l3");
  assertEquals(path("+/b/c"), "index:retained_l2_l3");
  assertEquals(path("+/+/c"), "index:retained_l3");
  assertEquals(path("a/b/+"), "prefix:retained_topic");
  assertEquals(path("+/b/#"), "index:retained_l2_l3");
  assertEquals(path("#"), "scan:null");
  assertEquals(path("+/+"), "scan:null");
  assertEquals(planRetained("a/+/c", [[2]]).path, "prefix");
  assertEquals(planRetained("a/#", []).where.startsWith("topic >= ? AND topic < ?"), true);
  // The SQL is exact (no matches() per row) unless a literal level is past the 8 columns.
  assertEquals(planRetained("a/+/c", SPECS).confirm, false);
  assertEquals(planRetained("+/+/+/+/+/+/+/+/#", SPECS).confirm, false);
  assertEquals(planRetained("+/1/temp/x/y/z/w/v/u/t", SPECS).confirm, true);
});

/** Topics with shared and distinct levels, $-topics, deep ones and empty levels. */
function topics(): string[] {
  const out: string[] = [];
  for (const a of ["sensor", "plant", "$SYS", ""]) {
    for (let i = 0; i < 6; i++) {
      for (const c of ["temp", "hum", ""]) out.push(`${a}/${i}/${c}`);
      out.push(`${a}/${i}`);
    }
    out.push(a);
    out.push(`${a}/1/temp/x/y/z/w/v/u/t`);
    out.push(`${a}/1/temp/x/y/z/w/v/u/s`);
  }
  return [...new Set(out)];
}

const FILTERS = [
  "#",
  "+",
  "+/#",
  "+/+",
  "+/+/+",
  "sensor/#",
  "sensor/+",
  "sensor/+/temp",
  "+/1/temp",
  "+/+/temp",
  "+/1/#",
  "sensor/1/+",
  "$SYS/#",
  "$SYS/+/hum",
  "/+/temp",
  "+//",
  "sensor/1/temp/x/y/z/w/v/u/+",
  "+/1/temp/x/y/z/w/v/u/t",
  "sensor/+/temp/#",
  "plant/5/hum",
  "nothing/+/here",
];

Deno.test("Store.retainedQuery() returns exactly what matches(), page by page", () => {
  const dir = tempDir();
  const store = Store.open(options(dir));
  try {
    const all = topics();
    const b = new StoreBatch();
    for (const t of all) b.retain(0, msg(t, t));
    store.apply(b.take());
    for (const filter of FILTERS) {
      const want = all.filter((t) => matches(filter, t)).sort();
      for (const limit of [1, 3, 1000]) {
        const got: string[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 1000; pages++) {
          const page = store.retainedQuery(filter, cursor, limit);
          got.push(...page.rows.map((r) => r.topic));
          cursor = page.next;
          if (cursor === null) break;
        }
        assertEquals(got.sort(), want, `${filter} (pages of ${limit})`);
      }
    }
  } finally {
    store.close();
    cleanup(dir);
  }
});

Deno.test("Store.retainedQuery() skips expired messages and expireRetained() deletes them", () => {
  const dir = tempDir();
  let now = 10_000;
  const store = Store.open({ ...options(dir), now: () => now });
  try {
    const b = new StoreBatch();
    b.retain(1, msg("e/1", "a", { expiresAt: 20_000 }));
    b.retain(1, msg("e/2", "b", { expiresAt: 0 }));
    store.apply(b.take());
    assertEquals(store.retainedQuery("e/+", null, 10).rows.length, 2);
    now = 20_000;
    assertEquals(store.retainedQuery("e/+", null, 10).rows.map((r) => r.topic), ["e/2"]);
    assertEquals(store.retainedQuery("e/1", null, 10).rows, []);
    assertEquals(store.retainedCount(), 2);
    assertEquals(store.expireRetained(), 1);
    assertEquals(store.retainedCount(), 1);
  } finally {
    store.close();
    cleanup(dir);
  }
});

Deno.test("SQLite reads sensor/+/temp through retained_l1_l3 and a/b/# through the topic index", () => {
  const dir = tempDir();
  const store = Store.open(options(dir));
  try {
    const b = new StoreBatch();
    b.retain(0, msg("sensor/1/temp"));
    store.apply(b.take());
    const db = new DatabaseSync(store.path, { readOnly: true });
    const explain = (filter: string) => {
      const p = planRetained(filter, SPECS);
      const indexed = p.index === null ? " NOT INDEXED" : ` INDEXED BY ${p.index}`;
      const sql = `EXPLAIN QUERY PLAN SELECT topic FROM retained${indexed} WHERE ${p.where}` +
        ` ORDER BY ${p.order.join(", ")}`;
      return db.prepare(sql).all(...p.params).map((r) => String(r.detail)).join(" | ");
    };
    const l13 = explain("sensor/+/temp");
    assert(/USING INDEX retained_l1_l3 \(l1=\? AND l3=\?\)/.test(l13), l13);
    assert(!/TEMP B-TREE/.test(l13), `no sort: ${l13}`);
    const prefix = explain("sensor/1/#");
    assert(/USING INDEX retained_topic \(topic>\? AND topic<\?\)/.test(prefix), prefix);
    assert(!/TEMP B-TREE/.test(prefix), `no sort: ${prefix}`);
    const scan = explain("#");
    assert(/^SCAN retained$/.test(scan), scan);
    db.close();
  } finally {
    store.close();
    cleanup(dir);
  }
});

Deno.test("Store keeps the retained indexes equal to index_specs across opens", () => {
  const dir = tempDir();
  try {
    Store.open(options(dir)).close();
    const store = Store.open(options(dir, { indexSpecs: [[2], [1, 4]] }));
    store.close();
    const db = new DatabaseSync(`${dir}/culex.db`, { readOnly: true });
    const names = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'index' AND name GLOB 'retained_l*' ORDER BY name",
    ).all().map((r) => r.name);
    db.close();
    assertEquals(names, ["retained_l1_l4", "retained_l2"]);
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.warmStep() fills the page cache in bounded steps, then stops", () => {
  const dir = tempDir();
  try {
    const store = Store.open({ ...options(dir), cacheKiB: 256 });
    const b = new StoreBatch();
    for (let i = 0; i < 5000; i++) b.retain(0, msg(`w/${i}/temp`, "x".repeat(100)));
    store.apply(b.take());
    let steps = 0;
    while (store.warmStep() && steps < 1000) steps++;
    // 256 KiB of about 150-byte rows: a couple of 1,000-row steps, never the whole table.
    assert(steps >= 1 && steps < 5, `steps: ${steps}`);
    assertEquals(store.warmStep(), false);
    assertEquals(store.retainedQuery("w/+/temp", null, 10_000).rows.length, 5000);
    store.close();
  } finally {
    cleanup(dir);
  }
  const empty = tempDir();
  try {
    const store = Store.open(options(empty));
    assertEquals(store.warmStep(), false); // nothing to read
    store.close();
  } finally {
    cleanup(empty);
  }
});
