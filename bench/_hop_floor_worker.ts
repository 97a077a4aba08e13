/**
 * The "shard" of a hop-floor node (bench/hop_floor.ts): copies every record of its ring from the
 * main isolate back into its ring to the main isolate, with no other work. It waits as a real
 * shard does (src/shard/shard.ts, `#run`): blocked in Atomics.wait on its doorbell
 * (blockOnDoorbell) while there was work in the last LINGER_MS, giving the event loop a turn every
 * YIELD_MS, and in Atomics.waitAsync (waitDoorbell) once idle longer than that.
 */

/// <reference lib="deno.worker" />

import {
  blockOnDoorbell,
  readDoorbell,
  RingReader,
  RingWriter,
  waitDoorbell,
} from "../src/ipc/mod.ts";
import type { WorkerInit } from "./_hop_floor_node.ts";

/** The shard's constants (src/shard/shard.ts). */
const YIELD_MS = 2;
const LINGER_MS = 20;

/** Runs the loop; never returns (the node process ends with its worker). */
async function run(init: WorkerInit): Promise<void> {
  const reader = new RingReader(init.fromMain);
  const writer = new RingWriter(init.toMain, init.mainBell);
  // The step stamp as stamp() in _hop_floor_node.ts writes it (that module loads node:net).
  const at = 8 + 8 * init.step;
  const echo = (kind: number, payload: Uint8Array) => {
    new DataView(payload.buffer, payload.byteOffset)
      .setFloat64(at, performance.timeOrigin + performance.now(), true);
    writer.write(kind + 1, payload);
  };
  let lastWork = 0;
  let lastYield = performance.now();
  const yieldTurn = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  };
  for (;;) {
    const seen = readDoorbell(init.bell);
    const work = reader.drain(echo);
    // The shard commits its ring to the supervisor at the end of every pass (#flushAll).
    writer.flush();
    const now = performance.now();
    if (work > 0) lastWork = now;
    if (readDoorbell(init.bell) !== seen) {
      await yieldTurn();
      continue;
    }
    if (now - lastWork < LINGER_MS) {
      const slice = YIELD_MS - (now - lastYield);
      if (slice <= 0) await yieldTurn();
      else blockOnDoorbell(init.bell, seen, slice);
    } else {
      await waitDoorbell(init.bell, seen);
      lastYield = performance.now();
    }
  }
}

self.onmessage = (e: MessageEvent<WorkerInit>) => {
  self.onmessage = null;
  void run(e.data);
};
