/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * Test-only worker for ring_test.ts and ring_fragment_test.ts: the producer isolate of the
 * two-isolate ring stress tests. Writes `count` records of varying sizes (with `big`, some larger
 * than the ring) whose bytes derive from the sequence number, waiting out congestion as a real
 * producer would (it stops producing until relief). Touches nothing but the ring and doorbell it
 * is given.
 */

import { type RingBuffers, RingWriter } from "./ring.ts";
import { stressKind, stressPayload } from "./_ring_stress_data.ts";

interface StartMessage {
  ring: RingBuffers;
  doorbell: SharedArrayBuffer;
  count: number;
  /** Largest size of every fifth record; 0 = all small (see _ring_stress_data.ts). */
  big?: number;
}

self.onmessage = produce;

async function produce(e: MessageEvent<StartMessage>): Promise<void> {
  const { ring, doorbell, count, big = 0 } = e.data;
  const writer = new RingWriter(ring, doorbell);
  let relief: (() => void) | null = null;
  let congestions = 0;
  writer.onCongestion = (on) => {
    if (on) congestions++;
    if (!on) relief?.();
  };
  for (let seq = 0; seq < count; seq++) {
    const payload = stressPayload(seq, big);
    // Every third record goes in as two parts to cover the gather path.
    if (seq % 3 === 0 && payload.length > 1) {
      const cut = payload.length >> 1;
      writer.write(stressKind(seq), [payload.subarray(0, cut), payload.subarray(cut)]);
    } else {
      writer.write(stressKind(seq), payload);
    }
    if (writer.congested) {
      await new Promise<void>((resolve) => (relief = resolve));
      relief = null;
    } else if (seq % 64 === 63) {
      // Let the microtask flush publish a batch now and then, as a socket read loop would.
      await Promise.resolve();
    }
  }
  writer.flush();
  self.postMessage({ type: "done", congestions });
}
