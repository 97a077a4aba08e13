/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * Test-only worker for waiter_test.ts: the blocking side of a doorbell ping-pong. Blocks in
 * blockOnDoorbell() on `ping` until it moves, rings `pong`, `rounds` times, then posts how many
 * rounds saw no ring within `boundMs` (a lost wake-up would show there) and how many waits
 * returned without a ring (spurious wake-ups, which the contract allows: waiter.ts).
 */

import { blockOnDoorbell, readDoorbell, ringDoorbell } from "./waiter.ts";

interface Start {
  ping: SharedArrayBuffer;
  pong: SharedArrayBuffer;
  rounds: number;
  boundMs: number;
}

self.onmessage = (e: MessageEvent<Start>) => {
  const { ping, pong, rounds, boundMs } = e.data;
  let seen = readDoorbell(ping);
  let missed = 0;
  let spurious = 0;
  self.postMessage({ ready: true });
  for (let i = 0; i < rounds; i++) {
    const end = performance.now() + boundMs;
    // A wait may end without a ring: wait again, as every consumer loop does.
    for (;;) {
      blockOnDoorbell(ping, seen, Math.max(1, end - performance.now()));
      if (readDoorbell(ping) !== seen || performance.now() >= end) break;
      spurious++;
    }
    const now = readDoorbell(ping);
    if (now === seen) {
      missed++;
      break;
    }
    seen = now;
    ringDoorbell(pong);
  }
  self.postMessage({ missed, spurious });
};
