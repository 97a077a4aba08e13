/**
 * Unit tests of the doorbell's wake-up rules (waiter.ts): a producer notifies only a consumer
 * that raised its sleeping flag, and neither a blocking worker nor an async waiter misses a ring.
 * ring_test.ts covers the plain waitDoorbell() cases.
 */

import { ok, strictEqual } from "node:assert/strict";
import {
  blockOnDoorbell,
  createDoorbell,
  readDoorbell,
  ringDoorbell,
  waitDoorbell,
} from "./waiter.ts";

Deno.test("blockOnDoorbell() returns at once when the doorbell already moved", () => {
  const bell = createDoorbell();
  const seen = readDoorbell(bell);
  ringDoorbell(bell);
  blockOnDoorbell(bell, seen, 60_000); // would block the test for a minute otherwise
  strictEqual(readDoorbell(bell), seen + 1);
});

Deno.test("waitDoorbell() still wakes after an earlier waiter on the same doorbell timed out", async () => {
  const bell = createDoorbell();
  // The first waiter times out and leaves its sleeping flag raised; the consumer never clears it.
  const first = readDoorbell(bell);
  await waitDoorbell(bell, first, 5);
  strictEqual(readDoorbell(bell), first);
  ringDoorbell(bell); // clears the stale flag (one needless notify)
  const seen = readDoorbell(bell);
  const woken = waitDoorbell(bell, seen, 10_000);
  ringDoorbell(bell);
  await woken;
  strictEqual(readDoorbell(bell), seen + 1);
});

// The consumer loops (Shard.#run, the supervisor's pump) take every wake as a hint and re-read the
// sequence, because a wait may end with "ok" and no ring: this soak test saw a few such wake-ups in
// 240,000 round trips, in the main isolate and in the worker alike (waiter.ts). It asserts what the
// loops rely on: every ring is seen within the bound, whatever spurious wake-ups come between.
Deno.test("a worker blocked on its doorbell and the main isolate in waitAsync ping-pong 2,000 times", async () => {
  const ping = createDoorbell();
  const pong = createDoorbell();
  const rounds = 2000;
  const boundMs = 10_000;
  const worker = new Worker(new URL("./_waiter_test_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const messages: { ready?: boolean; missed?: number; spurious?: number }[] = [];
    let notify: (() => void) | null = null;
    worker.onmessage = (e) => {
      messages.push(e.data);
      notify?.();
    };
    const next = () => new Promise<void>((r) => (notify = r));
    worker.postMessage({ ping, pong, rounds, boundMs });
    while (messages.length === 0) await next();
    let answered = 0;
    for (let i = 0; i < rounds; i++) {
      const seen = readDoorbell(pong);
      ringDoorbell(ping);
      const end = performance.now() + boundMs;
      while (readDoorbell(pong) === seen && performance.now() < end) {
        await waitDoorbell(pong, seen, Math.max(1, end - performance.now()));
      }
      if (readDoorbell(pong) === seen) break; // a lost wake-up: the counts below tell
      answered++;
    }
    while (messages.length < 2) await next();
    strictEqual(messages[1]!.missed, 0);
    strictEqual(answered, rounds);
    ok(readDoorbell(ping) >= rounds);
  } finally {
    worker.terminate();
  }
});
