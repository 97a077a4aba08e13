/**
 * The store worker protocol: StoreHost over real MessagePorts (group commit of several
 * clients in one transaction, reads after commits, commit tokens held until every part came,
 * a port's order kept behind a held part, crossing tokens, the token timeout, a full store),
 * and the real worker isolate started by startStoreWorker (open report, corrupt file moved
 * aside, newer file refused).
 */

import { DatabaseSync } from "node:sqlite";
import {
  isRefusal,
  makeKey,
  startStoreWorker,
  Store,
  StoreBatch,
  StoreClient,
  StoreError,
  StoreHost,
} from "./mod.ts";
import { assert, assertEquals, cleanup, msg, options, tempDir } from "./_test_util.ts";

function setup(over: Parameters<typeof options>[1] = {}, tokenTimeoutMs = 5000) {
  const dir = tempDir();
  const store = Store.open(options(dir, over));
  const host = new StoreHost(store, { tokenTimeoutMs });
  const clients: StoreClient[] = [];
  const connect = () => {
    const ch = new MessageChannel();
    host.attach(ch.port1);
    const c = new StoreClient(ch.port2);
    clients.push(c);
    return c;
  };
  const close = () => {
    for (const c of clients) c.close();
    host.close();
    store.close();
    cleanup(dir);
  };
  return { dir, store, host, connect, close };
}

function retained(topic: string) {
  const b = new StoreBatch();
  b.retain(0, msg(topic));
  return b.take();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `ready()` holds, at most 10 s: a loaded machine may take longer than any fixed sleep. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await sleep(10);
}

Deno.test("StoreHost commits what several clients sent together in one transaction", async () => {
  const t = setup();
  try {
    const a = t.connect(), b = t.connect(), reader = t.connect();
    const before = t.host.commits;
    const [ra, rb] = await Promise.all([
      a.commitAsync(retained("a/1")),
      b.commitAsync(retained("b/1")),
    ]);
    assertEquals([ra, rb], [[{ retainRefused: 0 }], [{ retainRefused: 0 }]]);
    assertEquals(t.host.commits - before, 1);
    const page = await reader.readAsync({
      kind: "retained",
      filter: "+/1",
      cursor: null,
      limit: 10,
    });
    assertEquals(page.rows.map((r) => r.topic).sort(), ["a/1", "b/1"]);
  } finally {
    t.close();
  }
});

Deno.test("StoreHost answers a read after the commits its port sent before it", async () => {
  const t = setup();
  try {
    const a = t.connect();
    let committed = false;
    a.commit(retained("x/1"), () => committed = true);
    const count = await a.readAsync({ kind: "retainedCount" });
    assertEquals([committed, count], [true, 1]);
    const err = await a.readAsync({ kind: "outgoing", sid: -1, afterSeq: 0, limit: 0 }).catch((e) =>
      e
    );
    assert(Array.isArray(err), "a read with odd arguments still answers");
  } finally {
    t.close();
  }
});

Deno.test("StoreHost holds token parts until every part came, and keeps each port's order", async () => {
  const t = setup();
  try {
    const pub = t.connect(), dest = t.connect(), reader = t.connect();
    const done: string[] = [];
    pub.commit(
      [{ batch: retained("tok/pub"), token: { key: "t1", parts: 2 } }],
      () => done.push("pub-t1"),
    );
    // A later commit of the same port must not overtake the held part.
    pub.commit(retained("tok/after"), () => done.push("pub-after"));
    await sleep(50);
    assertEquals(done, []);
    assertEquals(await reader.readAsync({ kind: "retainedCount" }), 0);
    const before = t.host.commits;
    dest.commit(
      [{ batch: retained("tok/dest"), token: { key: "t1", parts: 2 } }],
      () => done.push("dest-t1"),
    );
    await until(() => done.length === 3);
    assertEquals(done.sort(), ["dest-t1", "pub-after", "pub-t1"]);
    assertEquals(t.host.commits - before, 1);
    assertEquals(await reader.readAsync({ kind: "retainedCount" }), 3);
  } finally {
    t.close();
  }
});

Deno.test("StoreHost commits crossing tokens (A: t1 then t2, B: t2 then t1) without deadlock", async () => {
  const t = setup();
  try {
    const a = t.connect(), b = t.connect();
    const ra = a.commitAsync([
      { batch: retained("c/a1"), token: { key: "t1", parts: 2 } },
      { batch: retained("c/a2"), token: { key: "t2", parts: 2 } },
    ]);
    await sleep(20);
    const rb = b.commitAsync([
      { batch: retained("c/b2"), token: { key: "t2", parts: 2 } },
      { batch: retained("c/b1"), token: { key: "t1", parts: 2 } },
    ]);
    const results = await Promise.race([Promise.all([ra, rb]), sleep(2000).then(() => null)]);
    assert(results, "both committed");
    assertEquals(t.store.retainedCount(), 4);
  } finally {
    t.close();
  }
});

Deno.test("StoreHost commits a token's parts after tokenTimeoutMs when one never comes", async () => {
  const t = setup({}, 100);
  try {
    const a = t.connect();
    const started = Date.now();
    const r = await a.commitAsync([{
      batch: retained("lonely/1"),
      token: { key: "t9", parts: 3 },
    }]);
    assertEquals(r, [{ retainRefused: 0 }]);
    assert(Date.now() - started >= 100, "held for the timeout");
  } finally {
    t.close();
  }
});

Deno.test("StoreHost reports a full store per part and keeps the acks", async () => {
  const t = setup({ maxStoreSize: 1024 * 1024 });
  try {
    const a = t.connect();
    const sid = makeKey(1, 1);
    const b = new StoreBatch();
    b.session({
      sid,
      clientId: "c",
      protoVer: 5,
      expiryMs: -1,
      connected: false,
      disconnectedAt: 0,
      createdAt: 0,
      will: null,
      willDelayMs: 0,
    });
    for (let seq = 1; seq <= 100; seq++) {
      b.enqueue(sid, seq, {
        message: msg("q", "x".repeat(1000)),
        qos: 1,
        retain: false,
        subscriptionIds: [],
      });
    }
    assertEquals(await a.commitAsync(b.take()), [{ retainRefused: 0 }]);
    const acks = new StoreBatch();
    acks.done(sid, 1);
    const grow = new StoreBatch();
    grow.enqueue(sid, 101, {
      message: msg("big", "y".repeat(2_000_000)),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    const [r1, r2] = await a.commitAsync([{ batch: acks.take() }, { batch: grow.take() }]);
    assertEquals(r1, { retainRefused: 0 });
    assert(r2 && isRefusal(r2) && r2.code === "full", JSON.stringify(r2));
    const rows = await a.readAsync({ kind: "outgoing", sid, afterSeq: 0, limit: 1 });
    assertEquals(rows[0]?.seq, 2);
    assertEquals((await a.readAsync({ kind: "health" })).full, true);
  } finally {
    t.close();
  }
});

Deno.test("startStoreWorker() opens the file in a worker that serves several ports", async () => {
  const dir = tempDir();
  try {
    const w = await startStoreWorker(options(dir));
    assertEquals([w.report.created, w.report.corruption], [true, null]);
    const a = new StoreClient(w.connect()), b = new StoreClient(w.connect());
    const sid = makeKey(3, 1);
    const batch = new StoreBatch();
    batch.session({
      sid,
      clientId: "w",
      protoVer: 4,
      expiryMs: 1000,
      connected: true,
      disconnectedAt: 0,
      createdAt: 5,
      will: null,
      willDelayMs: 0,
    });
    batch.subscribe(sid, "t/#", {
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionId: 0,
    });
    assertEquals(await a.commitAsync(batch.take()), [{ retainRefused: 0 }]);
    const loaded = await b.readAsync({ kind: "sessions", partitions: [3], afterSid: 0, limit: 10 });
    assertEquals(loaded.map((s) => [s.clientId, s.subscriptions[0]?.filter]), [["w", "t/#"]]);
    a.close();
    b.close();
    await w.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("startStoreWorker() reports a corrupt file moved aside, and refuses a newer one", async () => {
  const dir = tempDir();
  try {
    Deno.writeFileSync(`${dir}/culex.db`, crypto.getRandomValues(new Uint8Array(8192)));
    const w = await startStoreWorker(options(dir));
    assert(w.report.corruption && /not an SQLite file/.test(w.report.corruption.reason));
    await w.close();
    const raw = new DatabaseSync(`${dir}/culex.db`);
    raw.exec("PRAGMA user_version = 7");
    raw.close();
    const err = await startStoreWorker(options(dir)).then(() => null, (e) => e);
    assert(err instanceof StoreError && err.code === "newer_version", String(err));
  } finally {
    cleanup(dir);
  }
});

Deno.test("StoreHost deletes expired retained messages every maintenanceMs", async () => {
  const dir = tempDir();
  let now = 1000;
  const store = Store.open(options(dir, { now: () => now }));
  const host = new StoreHost(store, { maintenanceMs: 20 });
  try {
    const b = new StoreBatch();
    b.retain(0, msg("exp/1", "x", { expiresAt: 2000 }));
    b.retain(0, msg("exp/2", "y"));
    store.apply(b.take());
    await sleep(60);
    assertEquals(store.retainedCount(), 2);
    now = 3000;
    await until(() => store.retainedCount() === 1);
    assertEquals(store.retainedCount(), 1);
  } finally {
    host.close();
    store.close();
    cleanup(dir);
  }
});

Deno.test("startStoreWorker() reports a worker that dies after opening through onError", async () => {
  const dir = tempDir();
  try {
    let failed: (e: StoreError) => void = () => {};
    const died = new Promise<StoreError>((resolve) => failed = resolve);
    const w = await startStoreWorker(options(dir), undefined, {
      onError: (e) => failed(e),
      workerUrl: new URL("./_crash_worker.ts", import.meta.url),
    });
    w.connect().close();
    const err = await Promise.race([died, sleep(10_000).then(() => null)]);
    assert(
      err instanceof StoreError && /store worker crash \(test\)/.test(err.message),
      String(err),
    );
  } finally {
    cleanup(dir);
  }
});
