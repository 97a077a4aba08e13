/**
 * Connections scenario: many idle MQTT clients (CONNECT/CONNACK, then nothing) spread over
 * several loadgen processes. Reports the connect rate and the broker's RSS growth per connection
 * (VmRSS after a small warm-up versus VmRSS with every client held, after a settle pause). The
 * count is capped by the broker's open-file limit, which the report then says.
 */

import { cpuSeconds, fdRoom, memKiB } from "./brokers.ts";
import type { IdleSpec } from "./lg_modes.ts";
import { type LoadProc, startAll } from "./lg_proc.ts";
import type { RunCtx, RunOutcome } from "./scenarios.ts";

const WARMUP_CLIENTS = 200;
const PER_PROCESS = 5_000;
const CONCURRENCY = 64;
const SETTLE_MS = 2_000;
/** File descriptors left to the broker for everything but client sockets. */
const FD_MARGIN = 64;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}

/** Runs the connections scenario against ctx.broker. */
export async function runConnections(ctx: RunCtx): Promise<RunOutcome> {
  const pid = ctx.broker.pid;
  const notes: string[] = [];
  const failures: string[] = [];
  const room = fdRoom(pid) - FD_MARGIN - WARMUP_CLIENTS;
  let n = ctx.connections;
  if (room < n) {
    n = Math.max(0, room);
    notes.push(
      `clients capped at ${n} (asked ${ctx.connections}): the broker's open-file limit ` +
        `(RLIMIT_NOFILE, raised to the hard limit by the bench) leaves no room for more`,
    );
  }
  const idle = (clients: number, i: number): IdleSpec => ({
    mode: "idle",
    port: ctx.broker.port,
    clients,
    concurrency: CONCURRENCY,
    idPrefix: `${ctx.tag}-i${i}`,
  });
  const procs: LoadProc[] = [];
  try {
    const warm = await startAll(ctx.rt, [idle(WARMUP_CLIENTS, 99)]);
    procs.push(...warm);
    const w = await warm[0]!.expect("done");
    if (num(w.errors) > 0) failures.push(`warm-up: ${w.errors} connect errors: ${w.firstError}`);
    await sleep(SETTLE_MS);
    const before = memKiB(pid).rss;

    const nProcs = Math.max(1, Math.ceil(n / PER_PROCESS));
    const specs = Array.from({ length: nProcs }, (_, i) => {
      const share = Math.floor(n / nProcs) + (i < n % nProcs ? 1 : 0);
      return idle(share, i);
    });
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const main = await startAll(ctx.rt, specs);
    procs.push(...main);
    const done = await Promise.all(main.map((p) => p.expect("done", 300_000)));
    const wallMs = performance.now() - t0;
    const brokerCpuPct = (cpuSeconds(pid) - c0) * 100_000 / wallMs;
    const connected = done.reduce((a, d) => a + num(d.connected), 0);
    const errors = done.reduce((a, d) => a + num(d.errors), 0);
    const connectMs = Math.max(...done.map((d) => num(d.connectMs)));
    const loadgenCpuPct = Math.max(...done.map((d) => num(d.cpuPct)));
    if (errors > 0) {
      const first = done.find((d) => d.firstError)?.firstError;
      failures.push(`${errors} of ${n} connections failed: ${first}`);
    }
    await sleep(SETTLE_MS);
    const after = memKiB(pid).rss;
    const closed = await Promise.all([...warm, ...main].map(async (p) => {
      await p.send("close");
      return await p.expect("closed");
    }));
    const dropped = closed.reduce((a, c) => a + num(c.droppedWhileIdle), 0);
    if (dropped > 0) failures.push(`${dropped} idle connections were closed by the broker`);
    return {
      values: {
        connRate: connected * 1000 / connectMs,
        kibPerConn: (after - before) / Math.max(1, connected),
        clients: connected,
        brokerCpuPct,
        loadgenCpuPct,
        brokerPeakMiB: memKiB(pid).hwm / 1024,
      },
      failures,
      notes,
      raw: { asked: ctx.connections, n, connected, errors, connectMs, before, after, dropped },
    };
  } finally {
    await Promise.all(procs.map((p) => p.end()));
  }
}
