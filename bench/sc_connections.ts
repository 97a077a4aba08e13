/**
 * Connections scenario: many idle MQTT clients (CONNECT/CONNACK, then nothing) spread over
 * several loadgen processes, in two halves. Reports the connect rate and the broker's memory per
 * connection two ways:
 * - settled: the lowest VmRSS over a settle window after each half; the second half's growth
 *   divided by its clients. What an idle connection keeps, once garbage from the connection
 *   storm is collected (Culex's force_gc, V8's own memory reducer, or nothing to collect);
 * - 2 s after: VmRSS 2 s after the last client, minus VmRSS 2 s after a small warm-up, divided by
 *   all clients: storm garbage and one-off growth (code, caches) included.
 * The count is capped by the broker's open-file limit, which the report then says.
 */

import { cpuSeconds, fdRoom, memKiB } from "./brokers.ts";
import type { IdleSpec } from "./lg_modes.ts";
import { type LoadProc, startAll } from "./lg_proc.ts";
import type { RunCtx, RunOutcome } from "./_scenario.ts";

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

/** The lowest VmRSS (KiB) seen over ms, sampled every 500 ms. */
async function lowestRss(pid: number, ms: number): Promise<number> {
  let low = memKiB(pid).rss;
  for (const end = performance.now() + ms; performance.now() < end;) {
    await sleep(500);
    low = Math.min(low, memKiB(pid).rss);
  }
  return low;
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

    // Two halves of at most PER_PROCESS clients per process each.
    const halves = [Math.floor(n / 2), n - Math.floor(n / 2)];
    const main: LoadProc[] = [];
    const done: Record<string, unknown>[] = [];
    const settled: number[] = [];
    let spec = 0;
    let connectMs = 0;
    let wallMs = 0;
    let cpu = 0;
    let after = before;
    for (const half of halves) {
      const nProcs = Math.max(1, Math.ceil(half / PER_PROCESS));
      const specs = Array.from({ length: nProcs }, (_, i) => {
        const share = Math.floor(half / nProcs) + (i < half % nProcs ? 1 : 0);
        return idle(share, spec++);
      });
      const c0 = cpuSeconds(pid);
      const t0 = performance.now();
      const procsOfHalf = await startAll(ctx.rt, specs);
      procs.push(...procsOfHalf);
      main.push(...procsOfHalf);
      const got = await Promise.all(procsOfHalf.map((p) => p.expect("done", 300_000)));
      wallMs += performance.now() - t0;
      cpu += cpuSeconds(pid) - c0;
      connectMs += Math.max(...got.map((d) => num(d.connectMs)));
      done.push(...got);
      await sleep(SETTLE_MS);
      after = memKiB(pid).rss;
      settled.push(ctx.settleMs > 0 ? await lowestRss(pid, ctx.settleMs) : after);
    }
    const brokerCpuPct = cpu * 100_000 / wallMs;
    const connected = done.reduce((a, d) => a + num(d.connected), 0);
    const errors = done.reduce((a, d) => a + num(d.errors), 0);
    const secondHalf = done.slice(-Math.max(1, Math.ceil(halves[1]! / PER_PROCESS)))
      .reduce((a, d) => a + num(d.connected), 0);
    const loadgenCpuPct = Math.max(...done.map((d) => num(d.cpuPct)));
    if (errors > 0) {
      const first = done.find((d) => d.firstError)?.firstError;
      failures.push(`${errors} of ${n} connections failed: ${first}`);
    }
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
        kibPerConnSettled: (settled[1]! - settled[0]!) / Math.max(1, secondHalf),
        clients: connected,
        brokerCpuPct,
        loadgenCpuPct,
        brokerPeakMiB: memKiB(pid).hwm / 1024,
      },
      failures,
      notes,
      raw: {
        asked: ctx.connections,
        n,
        connected,
        errors,
        connectMs,
        before,
        after,
        settled,
        settleMs: ctx.settleMs,
        dropped,
      },
    };
  } finally {
    await Promise.all(procs.map((p) => p.end()));
  }
}
