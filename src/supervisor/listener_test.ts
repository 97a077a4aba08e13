/**
 * Unit tests of listener admission (src/supervisor/listener.ts) and client placement
 * (shard_pool.ts fnv1a32). Pure: opens no socket and starts no worker.
 */

import { strictEqual } from "node:assert/strict";
import { Admission } from "./listener.ts";
import { fnv1a32 } from "./shard_pool.ts";

Deno.test("Admission.admit() refuses beyond maxConnections until one is released", () => {
  const a = new Admission({ maxConnections: 2, maxConnRate: 0 });
  strictEqual(a.admit(0), "ok");
  strictEqual(a.admit(0), "ok");
  strictEqual(a.admit(0), "max-connections");
  strictEqual(a.open, 2);
  a.released();
  strictEqual(a.admit(0), "ok");
});

Deno.test("Admission.admit() limits the accept rate per second with a one-second burst", () => {
  const a = new Admission({ maxConnections: 0, maxConnRate: 3 });
  strictEqual(a.admit(1000), "ok");
  strictEqual(a.admit(1000), "ok");
  strictEqual(a.admit(1000), "ok");
  strictEqual(a.admit(1000), "rate");
  strictEqual(a.admit(1200), "rate"); // 0.6 of a token earned
  strictEqual(a.admit(1400), "ok"); // 1.2 tokens earned since 1000
  strictEqual(a.admit(5000), "ok"); // refilled, capped at 3
  strictEqual(a.admit(5000), "ok");
  strictEqual(a.admit(5000), "ok");
  strictEqual(a.admit(5000), "rate");
});

Deno.test("Admission with both limits 0 admits everything", () => {
  const a = new Admission({ maxConnections: 0, maxConnRate: 0 });
  for (let i = 0; i < 1000; i++) strictEqual(a.admit(0), "ok");
});

Deno.test("fnv1a32() matches the FNV-1a 32-bit reference values over UTF-8", () => {
  strictEqual(fnv1a32(""), 0x811c9dc5);
  strictEqual(fnv1a32("a"), 0xe40c292c);
  strictEqual(fnv1a32("foobar"), 0xbf9cf968);
  // UTF-8, not UTF-16: "é" is the two bytes C3 A9.
  let h = 0x811c9dc5;
  for (const b of [0xc3, 0xa9]) h = Math.imul((h ^ b) >>> 0, 0x01000193) >>> 0;
  strictEqual(fnv1a32("é"), h);
});

Deno.test("max_conn_rate takes EMQX's rate forms", async () => {
  const { loadConfig } = await import("../config/mod.ts");
  const rateOf = (v: string) =>
    loadConfig({ sets: [`listeners.tcp.default.max_conn_rate=${v}`] }).listeners.tcp.default!
      .maxConnRate;
  strictEqual(rateOf("1000/s"), 1000);
  strictEqual(rateOf("100/10s"), 10);
  strictEqual(rateOf("60/m"), 1);
  strictEqual(rateOf("infinity"), 0);
  strictEqual(rateOf("250"), 250);
});

Deno.test("Admission.admit() lets a rate below one a second through once per period", () => {
  const a = new Admission({ maxConnections: 0, maxConnRate: 0.1 }); // "1/10s"
  strictEqual(a.admit(0), "ok");
  strictEqual(a.admit(1000), "rate");
  strictEqual(a.admit(10_000), "ok");
});
