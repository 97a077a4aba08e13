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
