/**
 * Store with real files: sessions, subscriptions, the outgoing flows (queue, inflight, QoS 2
 * phases), messages shared by several sessions, awaiting PUBREL, delayed messages and keys,
 * loading by partitions with any shard count, reopen after close, the retained cap.
 */

import { DatabaseSync } from "node:sqlite";
import { decodeMessage } from "../mqtt/mod.ts";
import { makeKey, partitionOfKey, Phase, Store, StoreBatch } from "./mod.ts";
import { assert, assertEquals, cleanup, msg, options, tempDir, text } from "./_test_util.ts";

const SUB = {
  qos: 1,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  subscriptionId: 0,
} as const;

function session(
  sid: number,
  clientId: string,
  over: Partial<Parameters<StoreBatch["session"]>[0]> = {},
) {
  return {
    sid,
    clientId,
    protoVer: 5,
    expiryMs: 60_000,
    connected: true,
    disconnectedAt: 0,
    createdAt: 1,
    will: null,
    willDelayMs: 0,
    ...over,
  };
}

function withStore(fn: (store: Store, dir: string) => void): void {
  const dir = tempDir();
  const store = Store.open(options(dir));
  try {
    fn(store, dir);
  } finally {
    store.close();
    cleanup(dir);
  }
}

Deno.test("Store keeps a session with its will, subscriptions and queue across a reopen", () => {
  const dir = tempDir();
  try {
    let store = Store.open(options(dir));
    const b = new StoreBatch();
    const sid = makeKey(17, 1);
    b.session(session(sid, "dev-1", { will: msg("dev/1/gone", "bye"), willDelayMs: 5000 }));
    b.subscribe(sid, "a/+", { ...SUB, qos: 2, retainAsPublished: true, subscriptionId: 9 });
    b.subscribe(sid, "b/#", { ...SUB, noLocal: true, retainHandling: 2 });
    const m = msg("a/1", "one", { properties: { userProperties: [["k", "v"]] } });
    b.enqueue(sid, 1, { message: m, qos: 1, retain: true, subscriptionIds: [9] });
    b.enqueue(
      sid,
      2,
      { message: msg("a/2", "two"), qos: 2, retain: false, subscriptionIds: [] },
      7,
    );
    store.apply(b.take());
    store.close();

    store = Store.open(options(dir));
    const [s] = store.sessions([17], 0, 10);
    assert(s);
    assertEquals([s.clientId, s.partition, s.expiryMs, s.connected, s.willDelayMs], [
      "dev-1",
      17,
      60_000,
      true,
      5000,
    ]);
    assertEquals(text(decodeMessage(s.will!).payload), "bye");
    assertEquals(s.subscriptions.map((x) => x.filter).sort(), ["a/+", "b/#"]);
    assertEquals(s.subscriptions.find((x) => x.filter === "a/+")?.opts, {
      qos: 2,
      noLocal: false,
      retainAsPublished: true,
      retainHandling: 0,
      subscriptionId: 9,
    });
    assertEquals(s.outgoing, { rows: 2, lastSeq: 2 });
    const rows = store.outgoing(sid, 0, 10);
    assertEquals(rows.map((r) => [r.seq, r.phase, r.packetId, r.qos, r.retain]), [
      [1, Phase.Queued, 0, 1, true],
      [2, Phase.Sent, 7, 2, false],
    ]);
    assertEquals(rows[0]!.subIds, [9]);
    const back = decodeMessage(rows[0]!.body!);
    assertEquals([back.topic, text(back.payload), back.properties.userProperties], [
      "a/1",
      "one",
      [["k", "v"]],
    ]);
    store.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store follows QoS 1 and 2 outgoing flows: sent, PUBREC, PUBACK/PUBCOMP", () => {
  withStore((store) => {
    const sid = makeKey(3, 1);
    const b = new StoreBatch();
    b.session(session(sid, "c"));
    for (let seq = 1; seq <= 3; seq++) {
      b.enqueue(sid, seq, {
        message: msg(`t/${seq}`),
        qos: seq === 1 ? 1 : 2,
        retain: false,
        subscriptionIds: [],
      });
    }
    store.apply(b.take());
    b.sent(sid, 1, 11);
    b.sent(sid, 2, 12);
    b.pubrel(sid, 2);
    store.apply(b.take());
    let rows = store.outgoing(sid, 0, 10);
    assertEquals(rows.map((r) => [r.seq, r.phase, r.packetId, r.body === null]), [
      [1, Phase.Sent, 11, false],
      [2, Phase.Pubrel, 12, true],
      [3, Phase.Queued, 0, false],
    ]);
    b.done(sid, 1);
    b.done(sid, 2);
    store.apply(b.take());
    rows = store.outgoing(sid, 0, 10);
    assertEquals(rows.map((r) => r.seq), [3]);
    assertEquals(store.outgoing(sid, 3, 10), []);
  });
});

Deno.test("Store stores a message for many sessions of one batch once, and frees it after the last ack", () => {
  withStore((store) => {
    const b = new StoreBatch();
    const m = msg("fan/out", "x".repeat(1000));
    const sids = Array.from({ length: 50 }, (_, i) => makeKey(i, 1));
    for (const sid of sids) {
      b.session(session(sid, `c${sid}`));
      b.enqueue(sid, 1, { message: m, qos: 1, retain: false, subscriptionIds: [] });
    }
    const wire = b.take();
    assertEquals(wire.msgs.length, 1);
    store.apply(wire);
    // A second connection reads the plain SQLite file: one shared message row, 50 references.
    const peek = new DatabaseSync(store.path, { readOnly: true });
    const messages = () => peek.prepare("SELECT count(*) AS n, sum(refs) AS r FROM messages").get();
    assertEquals({ ...messages() }, { n: 1, r: 50 });
    for (const sid of sids) {
      assertEquals(text(decodeMessage(store.outgoing(sid, 0, 1)[0]!.body!).payload).length, 1000);
    }
    for (const sid of sids.slice(0, 49)) b.done(sid, 1);
    store.apply(b.take());
    assertEquals(
      text(decodeMessage(store.outgoing(sids[49]!, 0, 1)[0]!.body!).payload).length,
      1000,
    );
    b.done(sids[49]!, 1);
    store.apply(b.take());
    assertEquals(store.outgoing(sids[49]!, 0, 1), []);
    assertEquals({ ...messages() }, { n: 0, r: null });
    peek.close();
  });
});

Deno.test("Store deletes a session with everything it had; a new sid for the same client id replaces it", () => {
  withStore((store) => {
    const b = new StoreBatch();
    const old = makeKey(9, 1);
    b.session(session(old, "same"));
    b.subscribe(old, "x", SUB);
    b.enqueue(old, 1, { message: msg("x"), qos: 1, retain: false, subscriptionIds: [] });
    b.awaitRel(old, 5, 10);
    store.apply(b.take());
    const fresh = makeKey(9, 2);
    b.session(session(fresh, "same"));
    store.apply(b.take());
    assertEquals(store.sessions([9], 0, 10).map((s) => s.sid), [fresh]);
    assertEquals([store.outgoing(old, 0, 10), store.awaitingRel(old)], [[], []]);
    assertEquals(store.sidOf("same"), fresh);
    b.sessionDelete(fresh);
    store.apply(b.take());
    assertEquals(store.sessions([9], 0, 10), []);
    assertEquals(store.sidOf("same"), null);
  });
});

Deno.test("Store updates connection state and expiry, and unsubscribes", () => {
  withStore((store) => {
    const sid = makeKey(1, 1);
    const b = new StoreBatch();
    b.session(session(sid, "c"));
    b.subscribe(sid, "a", SUB);
    b.subscribe(sid, "b", SUB);
    store.apply(b.take());
    b.sessionState(sid, false, 1234, Infinity);
    b.unsubscribe(sid, "a");
    store.apply(b.take());
    const [s] = store.sessions([1], 0, 10);
    assertEquals([s?.connected, s?.disconnectedAt, s?.expiryMs], [false, 1234, -1]);
    assertEquals(s?.subscriptions.map((x) => x.filter), ["b"]);
  });
});

Deno.test("Store keeps incoming QoS 2 packet ids until PUBREL", () => {
  withStore((store) => {
    const sid = makeKey(2, 1);
    const b = new StoreBatch();
    b.session(session(sid, "pub"));
    b.awaitRel(sid, 10, 100);
    b.awaitRel(sid, 3, 200);
    store.apply(b.take());
    assertEquals(store.awaitingRel(sid), [{ packetId: 3, receivedAt: 200 }, {
      packetId: 10,
      receivedAt: 100,
    }]);
    b.releaseRel(sid, 3);
    store.apply(b.take());
    assertEquals(store.awaitingRel(sid).map((r) => r.packetId), [10]);
  });
});

Deno.test("Store loads by partitions: any shard count sees every session exactly once", () => {
  withStore((store) => {
    const b = new StoreBatch();
    const sids: number[] = [];
    for (let p = 0; p < 1024; p += 7) {
      for (let n = 1; n <= 3; n++) {
        const sid = makeKey(p, n);
        sids.push(sid);
        b.session(session(sid, `c-${p}-${n}`));
      }
    }
    store.apply(b.take());
    for (const shards of [1, 2, 3, 4, 8]) {
      const seen: number[] = [];
      for (let shard = 0; shard < shards; shard++) {
        const mine = Array.from({ length: 1024 }, (_, p) => p).filter((p) => p % shards === shard);
        for (let after = 0;;) {
          const page = store.sessions(mine, after, 5);
          for (const s of page) {
            assertEquals(s.partition % shards, shard);
            assertEquals(partitionOfKey(s.sid), s.partition);
            seen.push(s.sid);
          }
          if (page.length < 5) break;
          after = page[page.length - 1]!.sid;
        }
      }
      assertEquals(seen.sort((a, c) => a - c), [...sids].sort((a, c) => a - c), `${shards} shards`);
    }
  });
});

Deno.test("Store keeps delayed messages per partition and reports the next free keys", () => {
  withStore((store) => {
    const b = new StoreBatch();
    b.delay(makeKey(4, 1), 5000, msg("later/a", "A"));
    b.delay(makeKey(4, 2), 6000, msg("later/b", "B"));
    b.delay(makeKey(5, 1), 7000, msg("later/c", "C"));
    b.session(session(makeKey(5, 9), "c"));
    store.apply(b.take());
    assertEquals(store.delayed([4]).map((d) => [d.dueAt, text(decodeMessage(d.body).payload)]), [
      [5000, "A"],
      [6000, "B"],
    ]);
    assertEquals(store.nextKeys([4, 5, 6]), { 4: 3, 5: 10, 6: 1 });
    b.delayDelete(makeKey(4, 1));
    store.apply(b.take());
    assertEquals(store.delayed([4, 5]).length, 2);
  });
});

Deno.test("Store refuses a retained message for a new topic over max_retained_messages", () => {
  const dir = tempDir();
  const store = Store.open({ ...options(dir), maxRetained: 2 });
  try {
    const b = new StoreBatch();
    for (const t of ["r/1", "r/2", "r/3"]) b.retain(0, msg(t));
    assertEquals(store.apply(b.take()), { retainRefused: 1 });
    assertEquals(store.retainedCount(), 2);
    b.retain(0, msg("r/1", "replaced"));
    assertEquals(store.apply(b.take()), { retainRefused: 0 });
    b.retainDelete("r/2");
    b.retain(0, msg("r/3"));
    assertEquals(store.apply(b.take()), { retainRefused: 0 });
    assertEquals(store.retainedQuery("r/+", null, 10).rows.map((r) => r.topic).sort(), [
      "r/1",
      "r/3",
    ]);
  } finally {
    store.close();
    cleanup(dir);
  }
});

Deno.test("Store's drop_oldest deletes the oldest queued row and hands its message back", () => {
  withStore((store) => {
    const b = new StoreBatch();
    const [a, c] = [makeKey(1, 1), makeKey(2, 1)];
    b.session(session(a, "a"));
    b.session(session(c, "c"));
    const shared = msg("q/shared", "both");
    const d = (m: ReturnType<typeof msg>) => ({
      message: m,
      qos: 1 as const,
      retain: false,
      subscriptionIds: [],
    });
    // seq 1 is inflight (never dropped); seq 2 is stored once for both sessions (messages table).
    b.enqueue(a, 1, d(msg("q/inflight", "0")), 7);
    b.enqueue(a, 2, d(shared));
    b.enqueue(c, 1, d(shared));
    b.enqueue(a, 3, d(msg("q/own", "3")));
    store.apply(b.take());
    assertEquals(b.dropOldest(a, 0), 0);
    assertEquals(b.dropOldest(a, 0), 1);
    assertEquals(b.dropOldest(a, 0), 2); // nothing queued is left: null in its place
    const r = store.apply(b.take());
    assertEquals(
      r.dropped?.map((m) => m && decodeMessage(m).topic),
      ["q/shared", "q/own", null],
    );
    assertEquals(store.outgoing(a, 0, 10).map((row) => row.seq), [1]);
    // The other session's reference to the shared message still reads it.
    assertEquals(decodeMessage(store.outgoing(c, 0, 10)[0]!.body!).topic, "q/shared");
    assertEquals(store.apply(b.take()).dropped, undefined);
  });
});

Deno.test("Store applies runs of acks and sent rows as ranges, in order with the other ops", () => {
  withStore((store) => {
    const b = new StoreBatch();
    const [a, c] = [makeKey(3, 1), makeKey(4, 1)];
    b.session(session(a, "a"));
    b.session(session(c, "c"));
    const d = { message: msg("r/1", "x"), qos: 1 as const, retain: false, subscriptionIds: [] };
    for (let seq = 1; seq <= 10; seq++) {
      b.enqueue(a, seq, d);
      b.enqueue(c, seq, d);
    }
    store.apply(b.take());
    // Interleaved as a shard's pass makes them: acks, rows moved into the window, new rows.
    for (let seq = 1; seq <= 4; seq++) {
      b.sent(a, seq, 100 + seq); // packet ids 101-104: one run
      b.sent(c, seq, seq === 3 ? 500 : 200 + seq); // the 3rd breaks c's run
    }
    b.done(a, 1);
    b.done(a, 2);
    b.enqueue(a, 11, d);
    b.done(a, 4); // not consecutive: a run of its own
    b.done(c, 2);
    // drop_oldest reads phases: the held sent rows must be applied before it (5 is the oldest queued).
    b.dropOldest(a, 0);
    store.apply(b.take());
    const rows = (sid: number) =>
      store.outgoing(sid, 0, 100).map((r) => `${r.seq}:${r.phase}:${r.packetId}`);
    assertEquals(rows(a), [
      "3:1:103",
      "6:0:0",
      "7:0:0",
      "8:0:0",
      "9:0:0",
      "10:0:0",
      "11:0:0",
    ]);
    assertEquals(rows(c), [
      "1:1:201",
      "3:1:500",
      "4:1:204",
      "5:0:0",
      "6:0:0",
      "7:0:0",
      "8:0:0",
      "9:0:0",
      "10:0:0",
    ]);
  });
});
