/**
 * Unit tests of records larger than a quarter ring (src/ipc/ring.ts, _ring_reader.ts,
 * _fragments.ts): carried in pieces and reassembled, of any size up to several times the ring,
 * interleaved with whole records, across the end of the data area and the u32 position wrap,
 * parked in overflow in FIFO order, and between two isolates. Pokes the ring header only to start
 * positions near the wrap and to plant a corrupt record.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { createRing, maxWholePayload, type RingBuffers, RingReader, RingWriter } from "./ring.ts";
import { createDoorbell, readDoorbell, waitDoorbell } from "./waiter.ts";
import { stressByte, stressKind, stressSize } from "./_ring_stress_data.ts";
import { parkedParts } from "./_fragments.ts";

interface Got {
  kind: number;
  payload: Uint8Array;
}

function filled(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (seed + i * 13 + (i >>> 9)) & 0xff;
  return out;
}

/** Drains `ring` on its doorbell until `count` whole records arrived or `ms` passed. */
async function collect(
  reader: RingReader,
  doorbell: SharedArrayBuffer,
  count: number,
  ms = 10_000,
): Promise<Got[]> {
  const out: Got[] = [];
  const deadline = Date.now() + ms;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`Timed out with ${out.length}/${count} records`);
    const seen = readDoorbell(doorbell);
    if (reader.drain((kind, payload) => out.push({ kind, payload })) === 0) {
      await Promise.race([waitDoorbell(doorbell, seen), new Promise((r) => setTimeout(r, 50))]);
    }
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  strictEqual(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: byte ${i} differs`);
  }
}

const CAP = 4096;
const WHOLE = maxWholePayload(CAP); // 1019: 5 header bytes + payload = a quarter ring

Deno.test("maxWholePayload() is a quarter ring less the record header", () => {
  strictEqual(WHOLE, 1019);
  strictEqual(maxWholePayload(4 << 20), (1 << 20) - 5);
});

Deno.test("Records of 1 byte to 3x the ring arrive whole and in order", async () => {
  const ring = createRing(CAP);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const reader = new RingReader(ring);
  const sizes = [1, WHOLE - 1, WHOLE, WHOLE + 1, WHOLE + 5, 2048, CAP - 5, CAP, CAP + 1, 3 * CAP];
  for (const [i, size] of sizes.entries()) {
    const p = filled(size, i);
    writer.write(i, p);
    const [got] = await collect(reader, bell, 1);
    strictEqual(got!.kind, i);
    equalBytes(got!.payload, p, `record of ${size} bytes`);
    ok(reader.isEmpty());
  }
  strictEqual(writer.congested, false);
});

Deno.test("A record of a quarter ring is one ring record; one byte more goes in pieces", () => {
  const ring = createRing(CAP);
  const writer = new RingWriter(ring, createDoorbell());
  const reader = new RingReader(ring);
  const got: Got[] = [];
  writer.write(1, filled(WHOLE, 1));
  writer.write(2, filled(WHOLE + 1, 2));
  writer.flush();
  strictEqual(reader.drain((kind, payload) => got.push({ kind, payload }), 1), 1);
  deepStrictEqual(got.map((g) => [g.kind, g.payload.length]), [[1, WHOLE]]);
  // The second record is two ring records: after the first piece, nothing is delivered yet.
  strictEqual(reader.drain((kind, payload) => got.push({ kind, payload }), 1), 1);
  strictEqual(got.length, 1);
  strictEqual(reader.drain((kind, payload) => got.push({ kind, payload })), 1);
  deepStrictEqual(got.map((g) => [g.kind, g.payload.length]), [[1, WHOLE], [2, WHOLE + 1]]);
  equalBytes(got[1]!.payload, filled(WHOLE + 1, 2), "pieced record");
});

Deno.test("Big and small records interleave; parts are gathered across pieces", async () => {
  const ring = createRing(CAP);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) {
    const p = filled(i % 2 === 0 ? 1 + (i * 37) % 200 : 1000 + i * 211, i);
    sent.push(p);
    // Every third record as three parts, cut so that part edges and piece edges differ.
    if (i % 3 === 0 && p.length > 2) {
      const a = Math.floor(p.length / 3);
      writer.write(i, [
        p.subarray(0, a),
        new Uint8Array(0),
        p.subarray(a, 2 * a),
        p.subarray(2 * a),
      ]);
    } else {
      writer.write(i, p);
    }
  }
  const got = await collect(new RingReader(ring), bell, sent.length);
  deepStrictEqual(got.map((g) => g.kind), sent.map((_, i) => i));
  got.forEach((g, i) => equalBytes(g.payload, sent[i]!, `record ${i}`));
});

Deno.test("Pieces and their headers wrap around the data area and the u32 position", async () => {
  for (const start of [0, CAP - 3, CAP - 7, 0xffffff00, 0xfffffffe]) {
    const ring = createRing(CAP);
    const header = new Int32Array(ring.sab, 0, 32);
    Atomics.store(header, 0, start | 0); // head
    Atomics.store(header, 16, start | 0); // tail
    const bell = createDoorbell();
    const writer = new RingWriter(ring, bell);
    const reader = new RingReader(ring);
    // Walk the write position so that piece headers split at every offset near the end.
    for (let round = 0; round < 24; round++) {
      const big = filled(2 * CAP + round * 3, round);
      const small = filled(round + 1, round + 100);
      writer.write(1, big);
      writer.write(2, small);
      const got = await collect(reader, bell, 2);
      deepStrictEqual(got.map((g) => g.kind), [1, 2]);
      equalBytes(got[0]!.payload, big, `start ${start} round ${round}`);
      equalBytes(got[1]!.payload, small, `start ${start} round ${round} small`);
    }
  }
});

Deno.test("A big record behind parked records parks whole and keeps FIFO order", async () => {
  const ring = createRing(CAP);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const reader = new RingReader(ring);
  const events: boolean[] = [];
  writer.onCongestion = (on) => events.push(on);
  const sent: Uint8Array[] = [];
  const write = (p: Uint8Array) => {
    writer.write(sent.length, p);
    sent.push(p);
  };
  for (let i = 0; i < 8; i++) write(filled(900, i)); // fills the ring, then parks
  ok(writer.congested);
  // The reader frees the whole ring before the writer's wait loop runs: room for pieces now,
  // but records are parked, so the big record must still park behind them.
  writer.flush();
  const got: Got[] = [];
  reader.drain((kind, payload) => got.push({ kind, payload }));
  const parkedBefore = writer.parkedBytes;
  // A big record of small parts (a 2,000-byte header reused by the caller and 30 KB views into
  // a bigger buffer that is reused too): the writer keeps a copy of just the record.
  const backing = filled(400_000, 77);
  const head = filled(2000, 76);
  const parts = [head, backing.subarray(100, 30_100), backing.subarray(50_000, 80_000)];
  writer.write(sent.length, parts);
  sent.push(Uint8Array.from(parts.flatMap((p) => [...p])));
  write(filled(100_000, 78)); // a large part: parked by reference, not changed by anyone
  strictEqual(writer.parkedBytes, parkedBefore + 162_000, "parked: the payloads, no more");
  backing.fill(0);
  head.fill(0);
  write(new Uint8Array([42])); // a small record after them still waits its turn
  got.push(...await collect(reader, bell, sent.length - got.length));
  deepStrictEqual(got.map((g) => g.kind), sent.map((_, i) => i));
  got.forEach((g, i) => equalBytes(g.payload, sent[i]!, `record ${i}`));
  await new Promise((r) => setTimeout(r, 0));
  deepStrictEqual(events, [true, false]);
  strictEqual(writer.parkedBytes, 0);
});

Deno.test("A big record writes the pieces that fit at once and parks only the rest", async () => {
  const ring = createRing(CAP);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const p = filled(10 * CAP, 5);
  writer.write(7, p);
  ok(writer.congested);
  // Three full pieces fit an empty ring (4 x 1024 would need the ring to the last byte, and the
  // fourth piece of 1024 does fit exactly): everything else is parked.
  ok(
    writer.parkedBytes < p.length && writer.parkedBytes >= p.length - CAP,
    `${writer.parkedBytes}`,
  );
  const got = await collect(new RingReader(ring), bell, 1);
  equalBytes(got[0]!.payload, p, "big record");
  strictEqual(got[0]!.kind, 7);
});

Deno.test("RingWriter.close() drops a parked big record and ends the wait", async () => {
  const ring = createRing(CAP);
  const writer = new RingWriter(ring, createDoorbell());
  writer.write(1, filled(8 * CAP, 1));
  ok(writer.congested);
  writer.close();
  strictEqual(writer.parkedBytes, 0);
  await new Promise((r) => setTimeout(r, 0));
  // What was in the ring is the first pieces only: the reader delivers nothing whole.
  const kinds: number[] = [];
  ok(new RingReader(ring).drain((k) => kinds.push(k)) > 0);
  deepStrictEqual(kinds, []);
});

Deno.test("RingReader.drain() throws on a piece that belongs to no record", () => {
  const ring = createRing(CAP);
  const data = new Uint8Array(ring.sab, 192, CAP);
  data.set([3, 0, 0, 0, 255, 1, 2, 3]); // FragmentMore of 3 bytes, nothing before it
  Atomics.store(new Int32Array(ring.sab, 0, 32), 0, 8);
  throws(() => new RingReader(ring).drain(() => {}), /Ring corrupted/);
});

/** Runs the producer worker and checks every record; returns how often it was congested. */
async function stress(ring: RingBuffers, count: number, big: number): Promise<number> {
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
    worker.postMessage({ ring, doorbell: bell, count, big });
    const reader = new RingReader(ring);
    let seq = 0;
    let bad = "";
    const check = (kind: number, payload: Uint8Array) => {
      if (bad !== "") return;
      const size = stressSize(seq, big);
      if (kind !== stressKind(seq) || payload.length !== size) {
        bad = `record ${seq}: kind ${kind} size ${payload.length}, want ${size}`;
      }
      for (let k = 0; k < payload.length && bad === ""; k++) {
        if (payload[k] !== stressByte(seq, k)) bad = `record ${seq}: byte ${k} differs`;
      }
      seq++;
    };
    const deadline = Date.now() + 60_000;
    while (seq < count && bad === "") {
      if (Date.now() > deadline) throw new Error(`Timed out at record ${seq}`);
      const seen = readDoorbell(bell);
      if (reader.drain(check, 64) === 0) await waitDoorbell(bell, seen);
    }
    strictEqual(bad, "");
    strictEqual(seq, count);
    ok(reader.isEmpty());
    return (await done).congestions;
  } finally {
    worker.terminate();
  }
}

Deno.test("A worker's records of up to 3x the ring arrive whole and in order", async () => {
  const capacity = 65536;
  const congestions = await stress(createRing(capacity), 4000, 3 * capacity);
  ok(congestions > 0, "the producer hit a full ring at least once");
});

Deno.test("parkedParts() keeps parts of 64 KiB or more by reference and copies the rest", () => {
  const small = filled(100, 1);
  const whole = filled(70_000, 2);
  const view = filled(300_000, 3).subarray(0, 70_000);
  const out = parkedParts([small, new Uint8Array(0), whole, small, small, view], 40);
  deepStrictEqual(out.map((p) => p.length), [60, 70_000, 200, 70_000]);
  strictEqual(out[1], whole, "a large part is parked as is");
  strictEqual(out[3], view, "a large view too");
  equalBytes(out[0]!, small.subarray(40), "rest of the first part");
  equalBytes(out[2]!, Uint8Array.from([...small, ...small]), "small parts in one copy");
  // Starting inside a large part parks a view of its rest.
  const [rest] = parkedParts([whole], 1000);
  strictEqual(rest!.buffer, whole.buffer);
  strictEqual(rest!.length, 69_000);
});

Deno.test("A record with a large part parks it by reference and keeps FIFO order", async () => {
  const ring = createRing(1 << 20); // a quarter is 256 KiB: a 100 KB record goes whole
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    const p = filled(100_000, i);
    sent.push(p.slice());
    // Header part copied (reused by the caller), payload part shared.
    const header = Uint8Array.of(i, i, i);
    writer.write(i, [header, p]);
    sent[i] = Uint8Array.from([i, i, i, ...p]);
    header.fill(0xee); // reusing the small part must not change what was parked
  }
  ok(writer.congested);
  const got = await collect(new RingReader(ring), bell, sent.length);
  got.forEach((g, i) => equalBytes(g.payload, sent[i]!, `record ${i}`));
});
