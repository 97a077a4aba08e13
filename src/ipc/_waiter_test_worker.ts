/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * Test-only worker for waiter_test.ts: the blocking side of a doorbell ping-pong. Blocks in
 * blockOnDoorbell() on `ping` until it moves, rings `pong`, `rounds` times, then posts how many
 * waits ended without a ring within `boundMs` (a lost wake-up would show there).
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
  self.postMessage({ ready: true });
  for (let i = 0; i < rounds; i++) {
    blockOnDoorbell(ping, seen, boundMs);
    const now = readDoorbell(ping);
    if (now === seen) {
      missed++;
      break;
    }
    seen = now;
    ringDoorbell(pong);
  }
  self.postMessage({ missed });
};
