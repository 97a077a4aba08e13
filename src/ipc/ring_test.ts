/**
 * Unit tests of the SPSC ring (src/ipc/ring.ts) and doorbells (waiter.ts): framing, wrap-around,
 * overflow parking and congestion, size limits, and a two-isolate stress test against a worker.
 * Pokes the ring header only to start positions near the u32 wrap.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { createRing, type RingBuffers, RingReader, RingWriter } from "./ring.ts";
import { createDoorbell, readDoorbell, ringDoorbell, waitDoorbell } from "./waiter.ts";
import { stressByte, stressKind, stressSize } from "./_ring_stress_data.ts";

interface Got {
  kind: number;
  payload: Uint8Array;
}

function drainAll(reader: RingReader): Got[] {
  const out: Got[] = [];
  reader.drain((kind, payload) => out.push({ kind, payload }));
  return out;
}

function filled(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (seed + i * 13) & 0xff);
}

/** Drains `ring` on its doorbell until `count` records arrived or `ms` passed. */
async function collect(
  ring: RingBuffers,
  doorbell: SharedArrayBuffer,
  count: number,
  ms = 5000,
): Promise<Got[]> {
  const reader = new RingReader(ring);
  const out: Got[] = [];
  const deadline = Date.now() + ms;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`Timed out with ${out.length}/${count} records`);
    const seen = readDoorbell(doorbell);
    if (reader.drain((kind, payload) => out.push({ kind, payload })) === 0) {
      await Promise.race([
        waitDoorbell(doorbell, seen),
        new Promise((r) => setTimeout(r, 50)),
      ]);
    }
  }
  return out;
}

Deno.test("RingWriter.write() delivers records in order after flush()", () => {
  const ring = createRing(4096);
  const writer = new RingWriter(ring, createDoorbell());
  const reader = new RingReader(ring);
  writer.write(7, new Uint8Array([1, 2, 3]));
  writer.write(8, [new Uint8Array([4]), new Uint8Array(0), new Uint8Array([5, 6])]);
  writer.write(9, new Uint8Array(0));
  ok(reader.isEmpty(), "nothing is visible before flush");
  writer.flush();
  ok(!reader.isEmpty());
  const got = drainAll(reader);
  deepStrictEqual(got.map((g) => g.kind), [7, 8, 9]);
  deepStrictEqual(got.map((g) => [...g.payload]), [[1, 2, 3], [4, 5, 6], []]);
  ok(reader.isEmpty());
});

Deno.test("RingWriter.write() flushes and rings the doorbell once per batch", async () => {
  const ring = createRing(4096);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const before = readDoorbell(bell);
  for (let i = 0; i < 10; i++) writer.write(1, new Uint8Array([i]));
  strictEqual(readDoorbell(bell), before);
  await Promise.resolve();
  strictEqual(readDoorbell(bell), before + 1);
  strictEqual(drainAll(new RingReader(ring)).length, 10);
});

Deno.test("RingWriter.write() wraps records and headers around the end of the data area", () => {
  const ring = createRing(4096);
  const writer = new RingWriter(ring, createDoorbell());
  const reader = new RingReader(ring);
  // Walk the start position across every offset near the end so the 5-byte header and the
  // payload each get split at every possible point.
  for (let round = 0; round < 40; round++) {
    const big = filled(4000 - round * 3, round);
    const small = filled(round + 1, round + 100);
    writer.write(1, big);
    writer.write(2, small);
    writer.flush();
    const got = drainAll(reader);
    deepStrictEqual(got.map((g) => g.kind), [1, 2]);
    deepStrictEqual(got[0]!.payload, big);
    deepStrictEqual(got[1]!.payload, small);
  }
});

Deno.test("RingWriter.write() keeps working across the u32 position wrap", () => {
  const ring = createRing(4096);
  const header = new Int32Array(ring.sab, 0, 32);
  Atomics.store(header, 0, 0xffffff00 | 0); // head
  Atomics.store(header, 16, 0xffffff00 | 0); // tail
  const writer = new RingWriter(ring, createDoorbell());
  const reader = new RingReader(ring);
  for (let i = 0; i < 20; i++) {
    const p = filled(300 + i, i);
    writer.write(i, p);
    writer.flush();
    const got = drainAll(reader);
    strictEqual(got.length, 1);
    deepStrictEqual(got[0]!.payload, p);
  }
  ok((Atomics.load(header, 0) >>> 0) < 0xffffff00, "head wrapped past 2^32");
});

Deno.test("RingWriter.write() parks records when the ring is full", async () => {
  const ring = createRing(4096);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const events: boolean[] = [];
  writer.onCongestion = (on) => events.push(on);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 40; i++) {
    const p = filled(500 + i, i);
    sent.push(p);
    writer.write(i, p);
  }
  ok(writer.congested);
  ok(writer.parkedBytes > 0);
  deepStrictEqual(events, [true]);
  // A small record that would fit still parks behind the parked ones: FIFO is kept.
  const tail = new Uint8Array([42]);
  sent.push(tail);
  writer.write(40, tail);
  const got = await collect(ring, bell, sent.length);
  deepStrictEqual(got.map((g) => g.kind), sent.map((_, i) => i));
  got.forEach((g, i) => deepStrictEqual(g.payload, sent[i]));
  // The congestion-off callback runs right after the last parked record moved in.
  await new Promise((r) => setTimeout(r, 0));
  deepStrictEqual(events, [true, false]);
  strictEqual(writer.congested, false);
  strictEqual(writer.parkedBytes, 0);
});

Deno.test("RingWriter.write() parks a record larger than the remaining space", async () => {
  const ring = createRing(4096);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const events: boolean[] = [];
  writer.onCongestion = (on) => events.push(on);
  const first = [1, 2, 3, 4].map((i) => filled(1000, i)); // 4 x 1005 of 4096 bytes
  const second = filled(500, 9); // fits an empty ring, not the 76 bytes left
  first.forEach((p, i) => writer.write(i, p));
  strictEqual(writer.congested, false);
  writer.write(4, second);
  strictEqual(writer.parkedBytes, 505);
  const got = await collect(ring, bell, 5);
  deepStrictEqual(got.map((g) => g.payload), [...first, second]);
  await new Promise((r) => setTimeout(r, 0));
  deepStrictEqual(events, [true, false]);
});

Deno.test("RingWriter.write() refuses the ring's own kinds (Pad, Fragment, FragmentMore)", () => {
  const writer = new RingWriter(createRing(4096), createDoorbell());
  throws(() => writer.write(253, new Uint8Array(1)), RangeError);
  throws(() => writer.write(254, new Uint8Array(1)), RangeError);
  throws(() => writer.write(255, new Uint8Array(1)), RangeError);
  throws(() => writer.write(-1, new Uint8Array(1)), RangeError);
  writer.write(252, new Uint8Array(1));
});

Deno.test("RingWriter.close() ends the space wait and discards parked records", async () => {
  const ring = createRing(4096);
  const writer = new RingWriter(ring, createDoorbell());
  writer.write(1, new Uint8Array(4000));
  writer.write(2, new Uint8Array(4000));
  ok(writer.congested);
  writer.close();
  strictEqual(writer.congested, false);
  writer.write(3, new Uint8Array(1)); // discarded after close
  await new Promise((r) => setTimeout(r, 0));
  strictEqual(drainAll(new RingReader(ring)).length, 1);
});

Deno.test("RingReader.drain() stops at maxRecords and returns the count", () => {
  const ring = createRing(4096);
  const writer = new RingWriter(ring, createDoorbell());
  for (let i = 0; i < 5; i++) writer.write(i, new Uint8Array([i]));
  writer.flush();
  const reader = new RingReader(ring);
  const kinds: number[] = [];
  strictEqual(reader.drain((k) => kinds.push(k), 2), 2);
  strictEqual(reader.drain((k) => kinds.push(k)), 3);
  strictEqual(reader.drain((k) => kinds.push(k)), 0);
  deepStrictEqual(kinds, [0, 1, 2, 3, 4]);
});

Deno.test("RingReader.drain() releases consumed records when onRecord throws", () => {
  const ring = createRing(4096);
  const writer = new RingWriter(ring, createDoorbell());
  for (let i = 0; i < 3; i++) writer.write(i, new Uint8Array([i]));
  writer.flush();
  const reader = new RingReader(ring);
  throws(() =>
    reader.drain((k) => {
      if (k === 1) throw new Error("boom");
    })
  );
  const rest: number[] = [];
  reader.drain((k) => rest.push(k));
  deepStrictEqual(rest, [2]);
});

Deno.test("createRing() rejects a capacity that is not a power of two >= 4096", () => {
  throws(() => createRing(2048), RangeError);
  throws(() => createRing(6000), RangeError);
  strictEqual(createRing(8192).capacity, 8192);
});

Deno.test("waitDoorbell() resolves at once when the doorbell already moved", async () => {
  const bell = createDoorbell();
  const seen = readDoorbell(bell);
  ringDoorbell(bell);
  await waitDoorbell(bell, seen);
  strictEqual(readDoorbell(bell), seen + 1);
});

Deno.test("waitDoorbell() with a timeout resolves when nothing rang", async () => {
  const bell = createDoorbell();
  const seen = readDoorbell(bell);
  await waitDoorbell(bell, seen, 20);
  strictEqual(readDoorbell(bell), seen);
  const woken = waitDoorbell(bell, seen, 10_000);
  ringDoorbell(bell);
  await woken;
  strictEqual(readDoorbell(bell), seen + 1);
});

Deno.test("RingReader.drain() receives 200,000 records from a worker in order", async () => {
  const count = 200_000;
  const ring = createRing(65536);
  const bell = createDoorbell();
  const worker = new Worker(new URL("./_ring_stress_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const done = new Promise<{ congestions: number }>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
  });
  try {
    worker.postMessage({ ring, doorbell: bell, count });
    const reader = new RingReader(ring);
    let seq = 0;
    let bad = "";
    const check = (kind: number, payload: Uint8Array) => {
      if (bad !== "") return;
      const size = stressSize(seq);
      if (kind !== stressKind(seq) || payload.length !== size) {
        bad = `record ${seq}: kind ${kind} size ${payload.length}, want ${size}`;
      }
      for (let k = 0; k < payload.length && bad === ""; k++) {
        if (payload[k] !== stressByte(seq, k)) bad = `record ${seq}: byte ${k} differs`;
      }
      seq++;
    };
    const deadline = Date.now() + 30_000;
    while (seq < count && bad === "") {
      if (Date.now() > deadline) throw new Error(`Timed out at record ${seq}`);
      const seen = readDoorbell(bell);
      if (reader.drain(check, 4096) === 0) await waitDoorbell(bell, seen);
    }
    strictEqual(bad, "");
    strictEqual(seq, count);
    const { congestions } = await done;
    ok(congestions > 0, "the producer hit a full ring at least once");
    ok(reader.isEmpty());
  } finally {
    worker.terminate();
  }
});
