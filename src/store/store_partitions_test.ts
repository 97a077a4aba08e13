/**
 * Store with real files, the second half: loading by partitions with any shard count, delayed
 * messages and keys, the retained cap, drop_oldest, and runs of acks applied as ranges. Shared
 * set-up (session(), withStore()) is in _test_util.ts.
 */

import { decodeMessage } from "../mqtt/mod.ts";
import { makeKey, partitionOfKey, Store, StoreBatch } from "./mod.ts";
import {
  assertEquals,
  cleanup,
  msg,
  options,
  session,
  tempDir,
  text,
  withStore,
} from "./_test_util.ts";

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
