/** The commit request's packed form (src/store/_commit_codec.ts) gives back what was packed. */

import { decodeCommit, encodeCommit } from "./_commit_codec.ts";
import { makeKey, StoreBatch } from "./mod.ts";
import type { CommitPart } from "./protocol.ts";
import { assertEquals, msg } from "./_test_util.ts";

Deno.test("encodeCommit/decodeCommit round-trip hot and cold ops, messages and tokens", () => {
  const b = new StoreBatch();
  const sid = makeKey(1023, 2 ** 20 + 5); // a large sid survives (f64)
  const d = (topic: string, over = {}) => ({
    message: msg(topic, "x".repeat(300)),
    qos: 1 as const,
    retain: false,
    subscriptionIds: [],
    ...over,
  });
  b.subscribe(sid, "a/#", {
    qos: 1,
    noLocal: false,
    retainAsPublished: true,
    retainHandling: 0,
    subscriptionId: 3,
  });
  b.enqueue(sid, 1, d("a/1"), 65535);
  b.enqueue(sid, 2, d("a/2", { subscriptionIds: [3], shared: "$share/g/a/#" })); // cold
  for (let s = 1; s <= 3; s++) b.sent(sid, s, 10 + s);
  b.done(sid, 1);
  b.done(sid, 2);
  b.dropOldest(sid, 2);
  b.retain(7, msg("r/t", "retained"));
  const parts: CommitPart[] = [
    { batch: b.take(), token: { key: "1:42", parts: 3 } },
    { batch: b.take() }, // empty
    { batch: { msgs: [], ops: [{ op: "out_delete", sid, seq: 9 }] } },
  ];
  const { packed, spans } = encodeCommit(parts);
  // The first part has cold ops: alone. The empty one and the delete merge (hot, not growing).
  assertEquals(spans, [1, 2]);
  const copy = structuredClone(packed, { transfer: [packed.buf.buffer] });
  assertEquals(decodeCommit(copy), [
    { batch: structuredClone(parts[0]!.batch), tokens: [{ key: "1:42", parts: 3 }] },
    { batch: structuredClone(parts[2]!.batch), tokens: [] },
  ]);
});

Deno.test("encodeCommit merges consecutive hot parts alike, with their tokens and messages", () => {
  const sid = makeKey(3, 7);
  const d = (topic: string) => ({
    message: msg(topic, "p"),
    qos: 1 as const,
    retain: false,
    subscriptionIds: [],
  });
  const part = (seq: number, key: string): CommitPart => {
    const b = new StoreBatch();
    b.enqueue(sid, seq, d(`m/${seq}`));
    return { batch: b.take(), token: { key, parts: 2 } };
  };
  const empty = (key: string): CommitPart => ({
    batch: { msgs: [], ops: [] },
    token: { key, parts: 2 },
  });
  const acks: CommitPart = { batch: { msgs: [], ops: [{ op: "out_delete", sid, seq: 1, to: 4 }] } };
  const parts = [part(5, "a"), part(6, "b"), part(7, "c"), empty("d"), acks, empty("e")];
  const { packed, spans } = encodeCommit(parts);
  // Growing parts together; then the parts that only release or are empty.
  assertEquals(spans, [3, 3]);
  const [grown, released] = decodeCommit(packed);
  assertEquals(grown!.tokens.map((t) => t.key), ["a", "b", "c"]);
  assertEquals(grown!.batch.msgs.length, 3);
  // Each op points at its own message in the merged list.
  assertEquals(grown!.batch.ops.map((o) => o.op === "out" ? o.msg : -1), [0, 1, 2]);
  assertEquals(
    grown!.batch.ops.map((o) => o.op === "out" ? o.seq : -1),
    [5, 6, 7],
  );
  assertEquals(
    grown!.batch.msgs.map((m) => m.length),
    parts.slice(0, 3).map((p) => p.batch.msgs[0]!.length),
  );
  assertEquals(released!.tokens.map((t) => t.key), ["d", "e"]);
  assertEquals(released!.batch.ops, [{ op: "out_delete", sid, seq: 1, to: 4 }]);
});
