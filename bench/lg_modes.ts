/**
 * Load generator, the paced and one-shot modes: point-to-point latency at a fixed rate (p2p),
 * idle connections (idle) and retained delivery (retained). Each setup connects what must exist
 * before "go" and resolves to the timed part; the runner owns the timing of phases across
 * processes. Flood mode lives in lg_flood.ts.
 */

import process from "node:process";
import { Conn, connErrors, openMany } from "./lg_conn.ts";
import { AckBatch, publishPidOffset, publishTemplate, readPid, setPid } from "./wire.ts";

/** Point-to-point: `pairs` publisher→subscriber pairs, `rate` messages a second in total. */
export interface P2pSpec {
  mode: "p2p";
  port: number;
  pairs: number;
  rate: number;
  qos: number;
  payload: number;
  window: number;
  durationMs: number;
  /** Latencies of messages sent in the first warmupMs are not counted. */
  warmupMs: number;
  idPrefix: string;
  /**
   * "tick" (default): a 1 ms timer sends what is due, about rate/1000 messages at once.
   * "even": one message every 1000/rate ms (200 µs at 5,000 msg/s), as ../shared/loadgen's
   * timerfd does; a clock thread (evenTicks) wakes the sender.
   */
  pacing?: "tick" | "even";
}

/** Idle clients: connect `clients` (CONNECT/CONNACK) and hold them until told to close. */
export interface IdleSpec {
  mode: "idle";
  port: number;
  clients: number;
  concurrency: number;
  idPrefix: string;
}

/** Retained: store `topics` retained messages (QoS 1), then time a `#` subscriber. */
export interface RetainedSpec {
  mode: "retained";
  port: number;
  topics: number;
  payload: number;
  window: number;
  timeoutMs: number;
  idPrefix: string;
}

const P2P_DRAIN_MS = 5_000;

function cpuSince(cpu0: ReturnType<typeof process.cpuUsage>, ms: number): number {
  const used = process.cpuUsage(cpu0);
  return (used.user + used.system) / 10 / ms;
}

function pct(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

// The clock thread of "even" pacing: sleeps in Atomics.wait (a futex with a sub-millisecond
// timeout; timers have 1 ms resolution) until each send is due, then bumps word 0 and wakes the
// main thread's Atomics.waitAsync. Word 1 set to 1 stops it. CommonJS for node:worker_threads'
// eval, which Node and Deno both run.
const EVEN_CLOCK = `
const { workerData } = require("node:worker_threads");
const word = new Int32Array(workerData.sab);
const nap = new Int32Array(new SharedArrayBuffer(4));
const t0 = performance.now();
for (let k = 1; Atomics.load(word, 1) === 0; k++) {
  const wait = t0 + k * workerData.intervalMs - performance.now();
  if (wait > 0) Atomics.wait(nap, 0, 0, wait);
  Atomics.add(word, 0, 1);
  Atomics.notify(word, 0);
}`;

/**
 * Calls `onTick` every `intervalMs` (sub-millisecond) from a clock thread until stop(); ticks
 * that come late are merged into one call. Used by "even" pacing.
 */
async function evenTicks(intervalMs: number, onTick: () => boolean): Promise<void> {
  const { Worker } = await import("node:worker_threads");
  const sab = new SharedArrayBuffer(8);
  const word = new Int32Array(sab);
  const clock = new Worker(EVEN_CLOCK, { eval: true, workerData: { sab, intervalMs } });
  try {
    let seen = 0;
    for (;;) {
      const r = Atomics.waitAsync(word, 0, seen);
      if (r.async) await r.value;
      seen = Atomics.load(word, 0);
      if (!onTick()) return;
    }
  } finally {
    Atomics.store(word, 1, 1);
    await clock.terminate();
  }
}

/** p2p mode; see P2pSpec. */
export async function setupP2p(spec: P2pSpec): Promise<() => Promise<Record<string, unknown>>> {
  const subOpen = await openMany(spec.port, spec.pairs, 50, (i) => `${spec.idPrefix}-s${i}`);
  if (subOpen.errors > 0) throw new Error(`subscriber connect: ${subOpen.firstError}`);
  await Promise.all(subOpen.conns.map((s, i) => s.subscribe(`bench/p2p/${i}`, spec.qos)));
  const pubOpen = await openMany(spec.port, spec.pairs, 50, (i) => `${spec.idPrefix}-p${i}`);
  if (pubOpen.errors > 0) throw new Error(`publisher connect: ${pubOpen.firstError}`);

  const f64 = new Float64Array(1);
  const f64b = new Uint8Array(f64.buffer);
  const latencies: number[] = [];
  let countFrom = Infinity;
  let sent = 0;
  let acked = 0;
  let received = 0;
  let skipped = 0;

  for (const s of subOpen.conns) {
    const acks = new AckBatch();
    s.onPacket = (buf, first, body) => {
      if (first >> 4 !== 3) return;
      const now = performance.now();
      received++;
      const q = (first >> 1) & 3;
      const pidAt = publishPidOffset(buf, body);
      if (q > 0) acks.add(0x40, readPid(buf, pidAt));
      const at = q > 0 ? pidAt + 2 : pidAt;
      for (let k = 0; k < 8; k++) f64b[k] = buf[at + k]!;
      if (f64[0]! >= countFrom) latencies.push(now - f64[0]!);
    };
    s.onChunkEnd = () => {
      if (acks.length > 0) s.write(acks.take());
    };
  }
  const pubs = pubOpen.conns.map((conn, i) => {
    const p = { conn, inflight: 0, nextPid: 1, t: publishTemplate(`bench/p2p/${i}`, spec.qos, 64) };
    conn.onPacket = (_buf, first) => {
      if (first >> 4 === 4) {
        p.inflight--;
        acked++;
      }
    };
    return p;
  });

  return async () => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    countFrom = t0 + spec.warmupMs;
    let attempted = 0;
    /** Sends what is due; false once the window is over. */
    const sendDue = (): boolean => {
      const now = performance.now();
      if (now - t0 >= spec.durationMs) return false;
      const due = Math.floor((now - t0) * spec.rate / 1000) - attempted;
      for (let k = 0; k < due; k++) {
        const p = pubs[attempted++ % pubs.length]!;
        if (p.inflight >= spec.window || p.conn.closed) {
          skipped++;
          continue;
        }
        const bytes = p.t.bytes.slice();
        if (spec.qos > 0) {
          setPid(bytes, p.t.pidOffset, p.nextPid);
          p.nextPid = p.nextPid === 0xffff ? 1 : p.nextPid + 1;
          p.inflight++;
        }
        f64[0] = performance.now();
        bytes.set(f64b, p.t.payloadOffset);
        p.conn.write(bytes);
        sent++;
      }
      return true;
    };
    if (spec.pacing === "even") {
      await evenTicks(1000 / spec.rate, sendDue);
    } else {
      await new Promise<void>((resolve) => {
        const tick = () => {
          if (!sendDue()) return resolve();
          setTimeout(tick, 1);
        };
        tick();
      });
    }
    const windowMs = performance.now() - t0;
    const cpuPct = cpuSince(cpu0, windowMs);
    const bound = performance.now() + P2P_DRAIN_MS;
    while ((acked < sent || received < acked) && performance.now() < bound) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const all = [...subOpen.conns, ...pubOpen.conns];
    const errs = connErrors(all);
    for (const c of all) c.destroy();
    const sorted = Float64Array.from(latencies).sort();
    return {
      sent,
      acked,
      received,
      skipped,
      windowMs,
      loss: Math.max(0, acked - received),
      unacked: sent - acked,
      samples: sorted.length,
      p50: pct(sorted, 0.5),
      p99: pct(sorted, 0.99),
      p999: pct(sorted, 0.999),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
      errors: errs.count,
      firstError: errs.first,
      cpuPct,
    };
  };
}

/** idle mode; see IdleSpec. The returned close() ends the held connections. */
export function setupIdle(spec: IdleSpec): {
  go: () => Promise<Record<string, unknown>>;
  close: () => Record<string, unknown>;
} {
  let conns: Conn[] = [];
  return {
    go: async () => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await openMany(spec.port, spec.clients, spec.concurrency, (i) => {
        return `${spec.idPrefix}-${i}`;
      });
      conns = r.conns;
      const connectMs = performance.now() - t0;
      return {
        connected: r.conns.length,
        errors: r.errors,
        firstError: r.firstError,
        connectMs,
        cpuPct: cpuSince(cpu0, connectMs),
      };
    },
    close: () => {
      const errs = connErrors(conns);
      for (const c of conns) c.destroy();
      return { droppedWhileIdle: errs.count, firstError: errs.first };
    },
  };
}

/** retained mode; see RetainedSpec. */
export function setupRetained(spec: RetainedSpec): () => Promise<Record<string, unknown>> {
  return async () => {
    const cpu0 = process.cpuUsage();
    const pub = await Conn.open(spec.port, `${spec.idPrefix}-p`);
    const packets = Array.from({ length: spec.topics }, (_, i) => {
      const t = publishTemplate(`bench/r/${i}`, 1, spec.payload, true);
      setPid(t.bytes, t.pidOffset, (i % 0xffff) + 1);
      return t.bytes;
    });
    let next = 0;
    let acked = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const send = () => {
        const parts: Uint8Array[] = [];
        while (next < packets.length && next - acked < spec.window) parts.push(packets[next++]!);
        for (const b of parts) pub.write(b);
      };
      pub.onPacket = (_buf, first) => {
        if (first >> 4 === 4) acked++;
      };
      pub.onChunkEnd = () => acked === packets.length ? resolve() : send();
      setTimeout(() => reject(new Error(`retained store timed out at ${acked}`)), spec.timeoutMs);
      send();
    });
    const storeMs = performance.now() - t0;
    pub.destroy();

    const sub = await Conn.open(spec.port, `${spec.idPrefix}-s`);
    let received = 0;
    let retainedFlag = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => (done = r));
    sub.onPacket = (_buf, first) => {
      if (first >> 4 !== 3) return;
      received++;
      retainedFlag += first & 1;
      if (received === spec.topics) done();
    };
    const t1 = performance.now();
    await sub.subscribe("#", 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, spec.timeoutMs)))]);
    clearTimeout(timer);
    const deliverMs = performance.now() - t1;
    const errs = connErrors([sub]);
    sub.destroy();
    return {
      stored: acked,
      storeMs,
      received,
      retainedFlag,
      deliverMs,
      complete: received >= spec.topics,
      errors: errs.count,
      firstError: errs.first,
      cpuPct: cpuSince(cpu0, storeMs + deliverMs),
    };
  };
}
