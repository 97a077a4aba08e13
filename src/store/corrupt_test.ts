/**
 * Bad files at open, all real files: truncated, garbage header, garbage in the middle (found by
 * quick_check at open, or by a read later and then at the next open), random bytes, an empty
 * file; a file from a newer Culex and a foreign SQLite file are refused unchanged; migrations
 * run forward (and a failing one leaves the file as it was); an unwritable data_dir.
 */

import { DatabaseSync } from "node:sqlite";
import { makeKey, Store, StoreBatch, StoreError } from "./mod.ts";
import type { Migration } from "./schema.ts";
import { MIGRATIONS } from "./schema.ts";
import { assert, assertEquals, cleanup, msg, options, tempDir } from "./_test_util.ts";

/** A closed store file with some sessions, queue rows and retained messages. */
function populated(dir: string, rows = 2000): string {
  const store = Store.open(options(dir));
  const b = new StoreBatch();
  for (let i = 1; i <= rows; i++) {
    const sid = makeKey(i % 1024, Math.floor(i / 1024) + 1);
    b.session({
      sid,
      clientId: `client-${i}`,
      protoVer: 4,
      expiryMs: -1,
      connected: false,
      disconnectedAt: 1,
      createdAt: 1,
      will: null,
      willDelayMs: 0,
    });
    b.enqueue(sid, 1, {
      message: msg(`q/${i}`, "p".repeat(200)),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    b.retain(i % 1024, msg(`r/${i}`, "v".repeat(100)));
  }
  store.apply(b.take());
  const path = store.path;
  store.close();
  return path;
}

function expectFreshAfterCorruption(dir: string, reason: RegExp): void {
  const store = Store.open(options(dir));
  try {
    const c = store.report.corruption;
    assert(c, "corruption reported");
    assert(reason.test(c.reason), c.reason);
    assert(
      c.movedTo.length >= 1 && /culex\.db\.corrupt-\d{8}T\d{6}Z$/.test(c.movedTo[0]!),
      c.movedTo[0],
    );
    for (const moved of c.movedTo) assert(Deno.statSync(moved).isFile, moved);
    assertEquals(store.report.created, true);
    assertEquals(store.sessions([0, 1, 2], 0, 10), []);
    // Usable at once.
    const b = new StoreBatch();
    b.retain(0, msg("after/recovery"));
    store.apply(b.take());
    assertEquals(store.retainedQuery("after/#", null, 10).rows.length, 1);
  } finally {
    store.close();
  }
}

function overwrite(path: string, at: number, bytes: Uint8Array): void {
  const f = Deno.openSync(path, { write: true });
  f.seekSync(at, Deno.SeekMode.Start);
  f.writeSync(bytes);
  f.close();
}

Deno.test("Store.open() moves a truncated file aside and starts empty", () => {
  const dir = tempDir();
  try {
    const path = populated(dir);
    const size = Deno.statSync(path).size;
    Deno.truncateSync(path, Math.floor(size / 4096 / 2) * 4096);
    expectFreshAfterCorruption(dir, /truncated: the header says \d+ pages/);
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() moves a file cut inside its header, or not a whole page, aside", () => {
  for (const cut of [50, 4096 * 3 + 100]) {
    const dir = tempDir();
    try {
      const path = populated(dir, 50);
      Deno.truncateSync(path, cut);
      expectFreshAfterCorruption(dir, /truncated/);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("Store.open() moves a file with a garbage header or random bytes aside", () => {
  for (const damage of ["header", "random", "text"]) {
    const dir = tempDir();
    try {
      const path = populated(dir, 50);
      if (damage === "header") overwrite(path, 0, crypto.getRandomValues(new Uint8Array(100)));
      else if (damage === "random") {
        Deno.writeFileSync(path, crypto.getRandomValues(new Uint8Array(40_000)));
      } else Deno.writeTextFileSync(path, "this is not a database, it is a note\n".repeat(20));
      expectFreshAfterCorruption(dir, /not an SQLite file/);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("Store.open() finds garbage in the middle with quick_check and moves the file aside", () => {
  const dir = tempDir();
  try {
    const path = populated(dir);
    const size = Deno.statSync(path).size;
    overwrite(
      path,
      Math.floor(size / 2 / 4096) * 4096,
      crypto.getRandomValues(new Uint8Array(8192)),
    );
    expectFreshAfterCorruption(dir, /quick_check|malformed/);
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store marks a file whose damage a read found, and the next open moves it aside", () => {
  const dir = tempDir();
  try {
    const path = populated(dir);
    const size = Deno.statSync(path).size;
    // Large files skip quick_check at open (quickCheckBelow 0 stands in for "large").
    overwrite(
      path,
      Math.floor(size / 2 / 4096) * 4096,
      crypto.getRandomValues(new Uint8Array(4096 * 8)),
    );
    const store = Store.open(options(dir, { quickCheckBelow: 0 }));
    assertEquals(store.report.corruption, null);
    let failed: StoreError | null = null;
    for (let p = 0; p < 1024 && !failed; p += 64) {
      try {
        for (const s of store.sessions(Array.from({ length: 64 }, (_, i) => p + i), 0, 10_000)) {
          store.outgoing(s.sid, 0, 10);
        }
        store.retainedQuery("#", null, 10_000);
      } catch (e) {
        if (e instanceof StoreError) failed = e;
        else throw e;
      }
    }
    assert(failed, "a read met the damage");
    assertEquals(failed.code, "corrupt");
    assertEquals(store.health().corruptSeen, true);
    store.close();
    assert(Deno.statSync(`${path}.suspect`).isFile);
    const reopened = Store.open(options(dir, { quickCheckBelow: 0 }));
    assert(reopened.report.corruption, "moved aside at the next open");
    assert(reopened.report.corruption.movedTo.some((p) => p.endsWith(".suspect")));
    reopened.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() takes an empty file as a new store", () => {
  const dir = tempDir();
  try {
    Deno.writeFileSync(`${dir}/culex.db`, new Uint8Array(0));
    const store = Store.open(options(dir));
    assertEquals([store.report.corruption, store.report.version], [null, 1]);
    store.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() refuses a file from a newer Culex and leaves it unchanged", () => {
  const dir = tempDir();
  try {
    const path = populated(dir, 10);
    const raw = new DatabaseSync(path);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    const before = Deno.readFileSync(path);
    let err: unknown;
    try {
      Store.open(options(dir)).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof StoreError);
    assertEquals(err.code, "newer_version");
    assert(
      /schema version 99, newer than this Culex understands \(1\)/.test(err.message),
      err.message,
    );
    assertEquals(Deno.readFileSync(path), before);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["culex.db"]);
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() refuses an SQLite file that Culex did not create", () => {
  const dir = tempDir();
  try {
    const raw = new DatabaseSync(`${dir}/culex.db`);
    raw.exec("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine')");
    raw.close();
    const before = Deno.readFileSync(`${dir}/culex.db`);
    let err: unknown;
    try {
      Store.open(options(dir)).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof StoreError && err.code === "foreign", String(err));
    assertEquals(Deno.readFileSync(`${dir}/culex.db`), before);
  } finally {
    cleanup(dir);
  }
});

const V2: Migration = {
  version: 2,
  description: "test step",
  sql: "ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT 'v2'; CREATE TABLE extra (x);",
};

Deno.test("Store.open() migrates a version 1 file forward and keeps its data", () => {
  const dir = tempDir();
  try {
    const path = populated(dir, 20);
    const store = Store.open(options(dir, { migrations: [...MIGRATIONS, V2] }));
    assertEquals([store.report.migratedFrom, store.report.version], [1, 2]);
    assertEquals(store.sessions(Array.from({ length: 1024 }, (_, i) => i), 0, 100).length, 20);
    store.close();
    const raw = new DatabaseSync(path, { readOnly: true });
    assertEquals(raw.prepare("PRAGMA user_version").get()?.user_version, 2);
    assertEquals(raw.prepare("SELECT DISTINCT note FROM sessions").all().map((r) => r.note), [
      "v2",
    ]);
    raw.close();
    // The shipped code (version 1) now refuses the migrated file.
    let err: unknown;
    try {
      Store.open(options(dir)).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof StoreError && err.code === "newer_version");
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() leaves the file as it was when a migration step fails", () => {
  const dir = tempDir();
  try {
    const path = populated(dir, 20);
    const bad: Migration = { version: 2, description: "bad", sql: "ALTER TABLE nowhere ADD x" };
    let err: unknown;
    try {
      Store.open(options(dir, { migrations: [...MIGRATIONS, bad] })).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof StoreError && err.code === "migration_failed", String(err));
    assert(/from schema version 1 to 2: no such table: nowhere/.test(err.message), err.message);
    const raw = new DatabaseSync(path, { readOnly: true });
    assertEquals(raw.prepare("PRAGMA user_version").get()?.user_version, 1);
    assertEquals(raw.prepare("SELECT count(*) AS n FROM sessions").get()?.n, 20);
    raw.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store.open() names node.data_dir when it cannot be created", () => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(`${dir}/file`, "x");
    let err: unknown;
    try {
      Store.open(options(`${dir}/file/data`)).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof StoreError && err.code === "not_writable", String(err));
    assert(err.message.startsWith(`node.data_dir ${dir}/file/data is not a writable directory`));
  } finally {
    cleanup(dir);
  }
});
