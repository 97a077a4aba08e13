/**
 * Unit tests of OutboundBatcher (src/shard/_outbound.ts): one record per connection and pass, in
 * order, and a batch or packet larger than a record cut into several records of views.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { OutboundBatcher, outboundBatchLimit } from "./_outbound.ts";

interface Emitted {
  connId: number;
  parts: Uint8Array[];
  bytes: number;
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed + i) & 0xff);
}

function joined(rs: Emitted[]): number[] {
  return rs.flatMap((r) => r.parts.flatMap((p) => [...p]));
}

Deno.test("outboundBatchLimit() fits one ConnOutbound record in a quarter ring", () => {
  strictEqual(outboundBatchLimit(4 << 20), (1 << 20) - 5 - 8);
});

Deno.test("OutboundBatcher emits one record per connection and flush, in order", () => {
  const out: Emitted[] = [];
  const b = new OutboundBatcher((connId, parts, n) => out.push({ connId, parts, bytes: n }), 100);
  b.add(1, bytes(10, 1));
  b.add(2, bytes(5, 2));
  b.add(1, bytes(20, 3));
  b.flush();
  deepStrictEqual(out.map((r) => [r.connId, r.bytes, r.parts.length]), [[1, 30, 2], [2, 5, 1]]);
});

Deno.test("OutboundBatcher cuts a packet larger than a record into records of views", () => {
  const out: Emitted[] = [];
  const b = new OutboundBatcher((connId, parts, n) => out.push({ connId, parts, bytes: n }), 100);
  const header = bytes(7, 9);
  const payload = bytes(450, 10); // a PUBLISH sent as its header and its payload view
  b.add(4, header);
  b.add(4, payload);
  b.add(4, bytes(3, 11));
  b.flush();
  ok(out.every((r) => r.connId === 4 && r.bytes <= 100), "no record above the limit");
  strictEqual(out.reduce((n, r) => n + r.bytes, 0), 460);
  deepStrictEqual(joined(out), [...header, ...payload, ...bytes(3, 11)], "the stream, in order");
  ok(out.every((r) => r.bytes === r.parts.reduce((n, p) => n + p.length, 0)));
  // Cut with views into the payload, not copies.
  ok(out.some((r) => r.parts.some((p) => p.buffer === payload.buffer && p.length < 450)));
});

Deno.test("OutboundBatcher.space() keeps order with add() and joins a connection's runs", () => {
  const out: Emitted[] = [];
  const b = new OutboundBatcher((connId, parts, n) => out.push({ connId, parts, bytes: n }), 1000);
  const fill = (v: Uint8Array, seed: number) => v.set(bytes(v.length, seed));
  fill(b.space(1, 10), 1);
  fill(b.space(1, 20), 11); // follows the first in the arena: the same part
  fill(b.space(2, 5), 50); // another connection in between
  fill(b.space(1, 7), 60); // a new run for connection 1
  b.add(1, bytes(3, 70)); // an own buffer closes the run
  fill(b.space(1, 4), 80);
  b.flush();
  deepStrictEqual(out.map((r) => [r.connId, r.bytes, r.parts.map((p) => p.length)]), [
    [1, 44, [30, 7, 3, 4]],
    [2, 5, [5]],
  ]);
  deepStrictEqual(joined([out[0]!]), [
    ...bytes(30, 1),
    ...bytes(7, 60),
    ...bytes(3, 70),
    ...bytes(4, 80),
  ]);
});

Deno.test("OutboundBatcher.space() batches are cut at the record limit, bytes in order", () => {
  const out: Emitted[] = [];
  const b = new OutboundBatcher((connId, parts, n) => out.push({ connId, parts, bytes: n }), 100);
  const want: number[] = [];
  for (let i = 0; i < 50; i++) {
    const v = b.space(3, 9);
    v.set(bytes(9, i * 9));
    want.push(...v);
  }
  b.flush();
  ok(out.every((r) => r.bytes <= 100 && r.connId === 3));
  strictEqual(out.reduce((n, r) => n + r.bytes, 0), 450);
  deepStrictEqual(joined(out), want);
});

Deno.test("OutboundBatcher.space() never hands out arena bytes twice", () => {
  const out: Emitted[] = [];
  const b = new OutboundBatcher(
    (connId, parts, n) => out.push({ connId, parts, bytes: n }),
    1 << 20,
  );
  // Past one arena (256 KiB): the first views must keep their bytes after the arena is renewed.
  const views: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const v = b.space(1, 1000);
    v.fill(i & 0xff);
    views.push(v);
    if (i % 50 === 0) b.flush();
  }
  b.flush();
  views.forEach((v, i) => ok(v.every((x) => x === (i & 0xff))));
  const all = joined(out);
  strictEqual(all.length, 300_000);
  for (let i = 0; i < 300; i++) strictEqual(all[i * 1000], i & 0xff);
  // A packet too big for the arena gets a buffer of its own.
  strictEqual(b.space(1, 20_000).byteOffset, 0);
});
