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
  const packed = encodeCommit(parts);
  const copy = structuredClone(packed, { transfer: [packed.buf.buffer] });
  assertEquals(decodeCommit(copy), structuredClone(parts));
});
