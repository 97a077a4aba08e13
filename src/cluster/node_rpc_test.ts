import assert from "node:assert/strict";
import { FieldReader } from "../ipc/mod.ts";
import { MAX_PENDING, NodeRequestError, NodeRpc, type RpcLink } from "./node_rpc.ts";
import { Frame } from "./proto_v1.ts";

/** A link that records the frames sent on it. */
function fakeLink(peer = "b@h"): RpcLink & { frames: { type: number; payload: Uint8Array }[] } {
  const frames: { type: number; payload: Uint8Array }[] = [];
  return {
    peer,
    frames,
    send(type, parts) {
      const n = parts.reduce((a, p) => a + p.length, 0);
      const payload = new Uint8Array(n);
      let at = 0;
      for (const p of parts) payload.set(p, (at += p.length) - p.length);
      frames.push({ type, payload });
      return true;
    },
  };
}

Deno.test("NodeRpc.ask() resolves with the Reply's JSON; an error Reply rejects", async () => {
  const rpc = new NodeRpc(60_000);
  const link = fakeLink();
  const asked = rpc.ask(link, "node.stats", {});
  const req = new FieldReader(link.frames[0]!.payload);
  assert.equal(link.frames[0]!.type, Frame.Request);
  const id = req.u32();
  assert.deepEqual([req.str(), req.str()], ["node.stats", "{}"]);
  rpc.replied(link, id, true, '{"connections.count":3}');
  assert.deepEqual(await asked, { "connections.count": 3 });
  const failing = rpc.ask(link, "node.info", {});
  const id2 = new FieldReader(link.frames[1]!.payload).u32();
  rpc.replied(link, id2, false, "unknown method");
  await assert.rejects(failing, /node b@h: unknown method/);
});

Deno.test("NodeRpc.ask() rejects at the timeout, and at once when the link goes down", async () => {
  const rpc = new NodeRpc(20);
  const link = fakeLink();
  await assert.rejects(rpc.ask(link, "node.info", {}), /no answer to node.info within 20 ms/);
  const slow = new NodeRpc(60_000);
  const pending = slow.ask(link, "node.info", {});
  slow.linkDown(link);
  await assert.rejects(
    pending,
    (e) => e instanceof NodeRequestError && /link is down/.test(e.message),
  );
});

Deno.test("NodeRpc.ask() keeps at most MAX_PENDING requests per link waiting", async () => {
  const rpc = new NodeRpc(60_000);
  const link = fakeLink();
  const waiting = Array.from({ length: MAX_PENDING }, () => rpc.ask(link, "node.info", {}));
  await assert.rejects(rpc.ask(link, "node.info", {}), /requests already wait/);
  // Another link is not held up by this one.
  const other = fakeLink("c@h");
  const ok = rpc.ask(other, "node.info", {});
  rpc.replied(other, new FieldReader(other.frames[0]!.payload).u32(), true, "{}");
  assert.deepEqual(await ok, {});
  rpc.linkDown(link);
  for (const w of waiting) await assert.rejects(w);
});

Deno.test("NodeRpc.answer() replies with the result, or the error text", async () => {
  const rpc = new NodeRpc(60_000);
  const link = fakeLink();
  rpc.answer(link, 7, "node.stats", "{}", () => Promise.resolve({ a: 1 }));
  rpc.answer(link, 8, "nope", "{}", () => Promise.reject(new Error("unknown method")));
  rpc.answer(link, 9, "node.stats", "not json", () => Promise.resolve(null));
  await new Promise((r) => setTimeout(r, 0));
  const replies = link.frames.map((f) => {
    const r = new FieldReader(f.payload);
    return [f.type, r.u32(), r.u8(), r.str()];
  });
  assert.deepEqual(replies.sort((x, y) => Number(x[1]) - Number(y[1])), [
    [Frame.Reply, 7, 1, '{"a":1}'],
    [Frame.Reply, 8, 0, "unknown method"],
    [Frame.Reply, 9, 0, "params that are not JSON"],
  ]);
});
