/**
 * A full store, for real: `durable_sessions.max_store_size` (SQLite's max_page_count) and, when
 * this machine lets the test mount one, a 2 MB tmpfs that really runs out of space. New writes
 * are refused with StoreError("full"), logged once per minute; reads go on; deletes in the same
 * batch still apply; space freed by deletes is used again.
 */

import { configure, type LogRecord, reset } from "@logtape/logtape";
import { makeKey, Store, StoreBatch, StoreError } from "./mod.ts";
import { assert, assertEquals, cleanup, msg, options, tempDir } from "./_test_util.ts";

const SID = makeKey(7, 1);
const BIG = "z".repeat(2000);

function sessionBatch(): StoreBatch {
  const b = new StoreBatch();
  b.session({
    sid: SID,
    clientId: "offline",
    protoVer: 5,
    expiryMs: -1,
    connected: false,
    disconnectedAt: 1,
    createdAt: 1,
    will: null,
    willDelayMs: 0,
  });
  return b;
}

/** Appends queue rows 10 at a time until the store refuses; returns the last seq stored. */
function fill(store: Store, from = 0): { seq: number; err: StoreError } {
  let seq = from;
  for (let i = 0; i < 100_000; i++) {
    const b = new StoreBatch();
    for (let k = 1; k <= 10; k++) {
      b.enqueue(SID, seq + k, {
        message: msg(`q/${seq + k}`, BIG),
        qos: 1,
        retain: false,
        subscriptionIds: [],
      });
    }
    try {
      store.apply(b.take());
      seq += 10;
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      return { seq, err: e };
    }
  }
  throw new Error("the store never filled");
}

async function captureStoreLogs(): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: ["culex", "store"], sinks: ["mem"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  return records;
}

Deno.test("Store refuses growing writes at max_store_size, keeps reads and deletes, logs once a minute", async () => {
  const records = await captureStoreLogs();
  const dir = tempDir();
  let now = 1_000_000;
  const store = Store.open(options(dir, { maxStoreSize: 1024 * 1024, now: () => now }));
  try {
    store.apply(sessionBatch().take());
    const { seq, err } = fill(store);
    assertEquals(err.code, "full");
    assert(seq > 100, `stored ${seq} rows first`);
    assertEquals(store.health().full, true);
    // Reads go on.
    assertEquals(store.outgoing(SID, 0, 5).map((r) => r.seq), [1, 2, 3, 4, 5]);
    assertEquals(store.sessions([7], 0, 1)[0]?.outgoing.rows, seq);
    // A batch with acks and new rows: refused, but its acks are applied.
    const b = new StoreBatch();
    for (let s = 1; s <= 200; s++) b.done(SID, s);
    // 4 MB: never fits in 1 MB, whatever the acks free.
    b.enqueue(SID, seq + 1, {
      message: msg("new", BIG.repeat(2000)),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    let refused: unknown;
    try {
      store.apply(b.take());
    } catch (e) {
      refused = e;
    }
    assert(refused instanceof StoreError && refused.code === "full");
    assertEquals(store.outgoing(SID, 0, 1)[0]?.seq, 201);
    // Freed pages are used again; the store is no longer full.
    const again = new StoreBatch();
    again.enqueue(SID, seq + 1, {
      message: msg("fits", BIG),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    store.apply(again.take());
    assertEquals(store.health().full, false);
    // Logged once within the minute, again after it.
    const fullLogs = () =>
      records.filter((r) => String(r.properties.message).includes("is full")).length;
    assertEquals(fullLogs(), 1);
    fill(store, seq + 1);
    assertEquals(fullLogs(), 1);
    now += 61_000;
    fill(store, seq + 1_000_000);
    assertEquals(fullLogs(), 2);
  } finally {
    store.close();
    cleanup(dir);
    await reset();
  }
});

Deno.test("Store.applyGroup() with release_only refuses every batch that grows, together", () => {
  const dir = tempDir();
  const store = Store.open(options(dir, { maxStoreSize: 1024 * 1024 }));
  try {
    store.apply(sessionBatch().take());
    const { seq } = fill(store);
    const acks = new StoreBatch();
    acks.done(SID, 1);
    const grows = new StoreBatch();
    grows.enqueue(SID, seq + 1, {
      message: msg("x", BIG.repeat(100)),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    grows.done(SID, 2);
    const results = store.applyGroup([acks.take(), grows.take()], { onFull: "release_only" });
    assertEquals(results[0], { retainRefused: 0 });
    assert(results[1] instanceof StoreError && results[1].code === "full");
    assertEquals(store.outgoing(SID, 0, 1)[0]?.seq, 3);
  } finally {
    store.close();
    cleanup(dir);
  }
});

/** Mounts a tmpfs of `size` at a new temp dir, or returns null when this machine forbids it. */
function mountTmpfs(size: string): string | null {
  if (Deno.build.os !== "linux") return null;
  const dir = tempDir();
  const out = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).outputSync();
  if (out.success) return dir;
  cleanup(dir);
  return null;
}

function unmount(dir: string): void {
  // Lazy: detached at once even if a failed test left the store open on it.
  new Deno.Command("umount", { args: ["-l", dir] }).outputSync();
  cleanup(dir);
}

/** Whether the test may mount a tmpfs here (root with CAP_SYS_ADMIN); probed and undone at once. */
function canMount(): boolean {
  const dir = mountTmpfs("64k");
  if (dir === null) return false;
  unmount(dir);
  return true;
}

Deno.test({
  name: "Store refuses writes on a really full disk (2 MB tmpfs) and reads go on",
  ignore: !canMount(),
  fn() {
    const dir = mountTmpfs("2m");
    assert(dir, "mount a 2 MB tmpfs");
    try {
      const store = Store.open(options(dir));
      store.apply(sessionBatch().take());
      const { seq, err } = fill(store);
      assertEquals(err.code, "full");
      assert(seq > 0);
      assertEquals(store.outgoing(SID, 0, 3).map((r) => r.seq), [1, 2, 3]);
      assertEquals(store.health().full, true);
      store.close();
      // The operator makes room (here: a bigger tmpfs) and restarts: every row committed
      // before the disk filled is there. (On a disk still full, SQLite cannot even recover the
      // WAL: the open fails with StoreError "io", which the broker reports and exits on.)
      const grown = new Deno.Command("mount", { args: ["-o", "remount,size=8m", dir] });
      assert(grown.outputSync().success, "remount");
      const reopened = Store.open(options(dir));
      assertEquals(reopened.report.corruption, null);
      assertEquals(reopened.sessions([7], 0, 1)[0]?.outgoing.rows, seq);
      reopened.close();
    } finally {
      unmount(dir);
    }
  },
});
