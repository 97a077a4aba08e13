/**
 * The shard's side of the durable store against a real store (StoreHost over MessagePorts, the
 * worker's protocol): one commit per pass, reads that see the pass's commit, DiscRetained
 * (wildcard lookups page by page, only matching rows, clears, max_retained_messages enforced by
 * the store) and DelayedPublish kept in the store (rows loaded back by the shard owning their
 * partition, deleted when fired, a due message fired once).
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { DelayedConfig } from "../config/types.ts";
import { createCounts, partitionOf, partitionsOfShard, SharedCounts } from "../ipc/mod.ts";
import type { Message } from "../mqtt/mod.ts";
import { Store, StoreClient, StoreHost } from "../store/mod.ts";
import { cleanup, msg, options, tempDir, text } from "../store/_test_util.ts";
import { ManualClock } from "./clock.ts";
import { DelayedPublish } from "./delayed.ts";
import { DiscRetained, RETAINED_PAGE } from "./retained_disc.ts";
import { ShardStore } from "./durable.ts";
import { getLogger } from "@logtape/logtape";
import { WorkQueue } from "./work_queue.ts";
import { warmRetainedPath } from "./_warm_up.ts";
import type { MqttConfig } from "../config/types.ts";

function setup(maxRetained = 0) {
  const dir = tempDir();
  const store = Store.open(options(dir, { maxRetained }));
  const host = new StoreHost(store);
  const clients: StoreClient[] = [];
  const connect = () => {
    const ch = new MessageChannel();
    host.attach(ch.port1);
    const c = new StoreClient(ch.port2);
    clients.push(c);
    // The shard's loop: a settled result runs in the next "pass".
    const work: WorkQueue = new WorkQueue(() => setTimeout(() => work.runSettled(), 0));
    const refusals: string[] = [];
    const pass = new ShardStore(
      c,
      work,
      getLogger(["test"]),
      0,
      false,
      (r) => refusals.push(r.code),
    );
    return { pass, refusals };
  };
  const close = () => {
    for (const c of clients) c.close();
    host.close();
    store.close();
    cleanup(dir);
  };
  return { store, connect, close };
}

const retained = (topic: string, payload = "x", timestamp = 1000) =>
  msg(topic, payload, { retain: true, timestamp });

/** Runs a lookup to the end; the pages as topics. */
function lookupAll(disc: DiscRetained, filter: string): Promise<string[][]> {
  return new Promise((resolve) => {
    const pages: string[][] = [];
    disc.lookup(
      filter,
      (page: Message[], more) => {
        pages.push(page.map((m) => m.topic));
        more(true);
      },
      () => resolve(pages),
    );
  });
}

/** The retained payload of `topic` as `reader` sees it now; null when there is none. */
function payloadOf(reader: DiscRetained, topic: string): Promise<string | null> {
  return new Promise((resolve) => {
    let got: string | null = null;
    reader.lookup(topic, (page, more) => {
      if (page[0]) got = text(page[0].payload);
      more(true);
    }, () => resolve(got));
  });
}

function disc(pass: ShardStore, refused: string[] = []) {
  return new DiscRetained(pass, 1024, (why) => refused.push(why), (_f, e) => {
    throw e;
  });
}

Deno.test("ShardStore: everything added in one pass is one commit, and a read asked in the pass sees it", async () => {
  const t = setup();
  try {
    const { pass } = t.connect();
    const d = disc(pass);
    d.store(retained("a/1"));
    d.store(retained("a/2"));
    const committed = pass.committed();
    const pages = lookupAll(d, "a/+");
    strictEqual(pass.size, 2); // not sent yet: the pass is still running
    strictEqual(await committed, null);
    deepStrictEqual((await pages).flat().sort(), ["a/1", "a/2"]);
    strictEqual(t.store.retainedCount(), 2);
  } finally {
    t.close();
  }
});

Deno.test("DiscRetained: a wildcard lookup delivers only matches, page by page, and an empty payload clears", async () => {
  const t = setup();
  try {
    const { pass } = t.connect();
    const d = disc(pass);
    const n = RETAINED_PAGE * 2 + 10;
    for (let i = 0; i < n; i++) d.store(retained(`sensor/${i}/temp`));
    for (let i = 0; i < 100; i++) d.store(retained(`sensor/${i}/hum`));
    d.store(retained("$SYS/x/temp"));
    await pass.committed();
    // The plan reads the [1, 3] index: rows of other level-3 values are never read.
    strictEqual(t.store.retainedPlan("sensor/+/temp").index, "retained_l1_l3");
    const pages = await lookupAll(d, "sensor/+/temp");
    strictEqual(pages.length, 3);
    strictEqual(pages.flat().length, n);
    ok(pages.flat().every((topic) => topic.endsWith("/temp")));
    // [MQTT-4.7.2-1]: "+" at the first level does not match "$SYS/...".
    strictEqual((await lookupAll(d, "+/x/temp")).flat().length, 0);
    d.store(retained("sensor/1/temp", "")); // [MQTT-3.3.1-6]
    await pass.committed();
    deepStrictEqual((await lookupAll(d, "sensor/1/temp")).flat(), []);
    strictEqual(t.store.retainedCount(), n + 100);
  } finally {
    t.close();
  }
});

Deno.test("warmRetainedPath: reads, decodes and encodes a few retained rows, and changes nothing", async () => {
  const t = setup();
  try {
    const { pass } = t.connect();
    const mqtt = { maxInflight: 32, maxMqueueLen: 100 } as MqttConfig;
    strictEqual(await warmRetainedPath(pass, mqtt, Date.now()), 0); // an empty store: no work
    const d = disc(pass);
    for (let i = 0; i < 1000; i++) d.store(retained(`sensor/${i}/temp`, "21.5"));
    await pass.committed();
    const bytes = await warmRetainedPath(pass, mqtt, Date.now());
    // At most 300 rows per filter ("#", "+/+/+"), each encoded as 3.1.1 and 5.0 PUBLISH.
    ok(bytes > 0 && bytes < 2 * 2 * 300 * 64, `${bytes} bytes`);
    strictEqual(t.store.retainedCount(), 1000);
    strictEqual((await lookupAll(d, "sensor/+/temp")).flat().length, 1000);
  } finally {
    t.close();
  }
});

Deno.test("DiscRetained: a lookup stops when the subscription is gone; over max_retained_messages a new topic is refused", async () => {
  const t = setup(2);
  try {
    const { pass } = t.connect();
    const refused: string[] = [];
    const d = disc(pass, refused);
    d.store(retained("t/1"));
    d.store(retained("t/2"));
    d.store(retained("t/3"));
    d.store(retained("t/1", "replaced")); // an existing topic may still be replaced
    strictEqual(await pass.committed(), null); // committed: the other topics are in
    await new Promise((r) => setTimeout(r, 0));
    deepStrictEqual(refused, ["refused"]);
    strictEqual(t.store.retainedCount(), 2);
    ok(!d.store(msg("t/big", "y".repeat(2000), { retain: true })));
    deepStrictEqual(refused, ["refused", "too_large"]);
    let calls = 0;
    await new Promise<void>((resolve) =>
      d.lookup("#", (_page, more) => {
        calls++;
        more(false);
      }, resolve)
    );
    strictEqual(calls, 1);
    strictEqual(d.reading, 0);
  } finally {
    t.close();
  }
});

const delayedConfig = {
  enable: true,
  maxDelayedMessages: 0,
  maxDelayInterval: 3600_000,
} as DelayedConfig;

Deno.test("DelayedPublish with a store: rows kept, loaded by the shard owning their partition, deleted once fired", async () => {
  const t = setup();
  try {
    const shards = 2;
    // Publishers on shard 0 and shard 1 (by the partition of their client id).
    const clientOn = (shard: number) => {
      const [first, end] = partitionsOfShard(shard, shards);
      for (let i = 0;; i++) {
        const p = partitionOf(`c${i}`);
        if (p >= first && p < end) return `c${i}`;
      }
    };
    const make = (shard: number, clock: ManualClock, out: Message[]) => {
      const { pass } = t.connect();
      const counts = new SharedCounts(createCounts(shards), shards, shard);
      const d = new DelayedPublish(delayedConfig, counts, clock, (m) => out.push(m), {
        store: pass,
        partitions: partitionsOfShard(shard, shards),
      });
      return { d, pass };
    };
    const clock = new ManualClock(1000);
    const fired: Message[] = [];
    const s0 = make(0, clock, fired);
    const s1 = make(1, clock, fired);
    await Promise.all([s0.d.load(), s1.d.load()]);
    s0.d.schedule(msg("t/a", "a", { origin: clientOn(0) }), 10_000, clock.now());
    s0.d.schedule(msg("t/b", "b", { origin: clientOn(1) }), 20_000, clock.now()); // API-like
    s1.d.schedule(msg("t/c", "c", { origin: clientOn(1) }), 30_000, clock.now());
    await Promise.all([s0.pass.committed(), s1.pass.committed()]);
    s0.d.stop();
    s1.d.stop();

    // "Restart" with the clock past the first due time: each shard loads its own rows.
    const later = new ManualClock(15_000);
    const after: Message[] = [];
    const r0 = make(0, later, after);
    const r1 = make(1, later, after);
    strictEqual(await r0.d.load(), 2);
    strictEqual(await r1.d.load(), 1);
    later.advance(0);
    deepStrictEqual(after.map((m) => m.topic), ["t/a"]); // overdue: fired once, at start
    await r0.pass.committed();
    later.advance(20_000);
    deepStrictEqual(after.map((m) => m.topic).sort(), ["t/a", "t/b", "t/c"]);
    await Promise.all([r0.pass.committed(), r1.pass.committed()]);
    // A new schedule after the load does not reuse a key (the counter came from the store).
    r1.d.schedule(msg("t/d", "d", { origin: clientOn(1) }), 1000, later.now());
    await r1.pass.committed();
    r0.d.stop();
    r1.d.stop();
    const again = make(1, later, []);
    strictEqual(await again.d.load(), 1);
    strictEqual(await make(0, later, []).d.load(), 0);
    again.d.stop();
  } finally {
    t.close();
  }
});

Deno.test("DiscRetained.storeIfNewer: the store decides at commit, so a peer's older write never replaces a newer row, whichever shard wrote it and whenever", async () => {
  const t = setup();
  try {
    const d0 = disc(t.connect().pass); // the shard a peer's writes go to
    const p1 = t.connect().pass;
    const d1 = disc(p1); // a local publisher's shard
    const at = (topic: string, payload: string, timestamp: number) =>
      retained(topic, payload, timestamp);
    // A local write on another shard (newer), committed before the peer's older one: kept.
    d1.store(at("t/1", "local", 2000));
    await p1.committed();
    d0.storeIfNewer(at("t/1", "peer-old", 1000));
    // The peer's older write, decided before a newer local write on another shard: replaced.
    d0.storeIfNewer(at("t/2", "peer-old", 1000));
    d1.store(at("t/2", "local", 2000));
    await p1.committed();
    // A peer's newer write replaces an older row; the same millisecond keeps the later arrival.
    d1.store(at("t/3", "local", 1000));
    d1.store(at("t/4", "local", 1000));
    await p1.committed();
    d0.storeIfNewer(at("t/3", "peer-new", 2000));
    d0.storeIfNewer(at("t/4", "peer-same", 1000));
    // A peer's clear: older than the row, ignored; newer, it deletes [MQTT-3.3.1-6].
    d1.store(at("t/5", "local", 2000));
    d1.store(at("t/6", "local", 1000));
    await p1.committed();
    d0.storeIfNewer(at("t/5", "", 1000));
    d0.storeIfNewer(at("t/6", "", 2000));
    // Two peer writes of one topic in one pass, the newer first: the older one is skipped.
    d0.storeIfNewer(at("t/7", "peer-new", 2000));
    d0.storeIfNewer(at("t/7", "peer-old", 1000));
    const want: Record<string, string | null> = {
      "t/1": "local",
      "t/2": "local",
      "t/3": "peer-new",
      "t/4": "peer-same",
      "t/5": "local",
      "t/6": null,
      "t/7": "peer-new",
    };
    const got: Record<string, string | null> = {};
    for (const topic of Object.keys(want)) got[topic] = await payloadOf(d0, topic);
    deepStrictEqual(got, want);
  } finally {
    t.close();
  }
});

Deno.test("DiscRetained: a local clear is remembered by the store, so a peer's older write committed after it stays refused (no window before the supervisor's tombstone)", async () => {
  const t = setup();
  try {
    const d0 = disc(t.connect().pass); // the shard a peer's writes go to
    const p1 = t.connect().pass;
    const d1 = disc(p1); // a local client's shard
    for (const topic of ["c/1", "c/2", "c/3", "c/4"]) d1.store(retained(topic, "old", 1000));
    await p1.committed();
    // A local client clears at 2000 [MQTT-3.3.1-6]; the row is gone once this commits.
    for (const topic of ["c/1", "c/2", "c/3", "c/4"]) d1.store(retained(topic, "", 2000));
    await p1.committed();
    // Peer writes that were on their way: older than the clear (refused), the same millisecond
    // (refused, as the supervisor's tombstone rule), newer (stored).
    d0.storeIfNewer(retained("c/1", "peer-old", 1500));
    d0.storeIfNewer(retained("c/2", "peer-same", 2000));
    d0.storeIfNewer(retained("c/3", "peer-new", 2500));
    // A local write after the clear: the row decides again (a newer peer write replaces it,
    // an older one does not).
    d1.store(retained("c/4", "local", 3000));
    await p1.committed();
    d0.storeIfNewer(retained("c/4", "peer-older", 2500));
    const want: Record<string, string | null> = {
      "c/1": null,
      "c/2": null,
      "c/3": "peer-new",
      "c/4": "local",
    };
    const got: Record<string, string | null> = {};
    for (const topic of Object.keys(want)) got[topic] = await payloadOf(d0, topic);
    deepStrictEqual(got, want);
  } finally {
    t.close();
  }
});
