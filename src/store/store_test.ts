/**
 * Store with real files: sessions, subscriptions, the outgoing flows (queue, inflight, QoS 2
 * phases), messages shared by several sessions, awaiting PUBREL, reopen after close. Partitions,
 * delayed messages, the retained cap, drop_oldest and ranges are in store_partitions_test.ts.
 */

import { DatabaseSync } from "node:sqlite";
import { decodeMessage } from "../mqtt/mod.ts";
import { makeKey, Phase, Store, StoreBatch } from "./mod.ts";
import {
  assert,
  assertEquals,
  cleanup,
  msg,
  options,
  session,
  tempDir,
  text,
  withStore,
} from "./_test_util.ts";

const SUB = {
  qos: 1,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  subscriptionId: 0,
} as const;

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
