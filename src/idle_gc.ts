/**
 * Idle garbage collection, per isolate (EMQX has `force_gc` for the same reason). V8 collects
 * young garbage at once but leaves a heap that grew during a burst (a connection storm, a flood)
 * for its memory reducer, which ran 25-30 s after the burst here, or never while a trickle of
 * keepalive pings keeps the isolate from looking idle. So an isolate whose heap grew well past
 * what the last full collection kept alive, and that is quiet, asks for one full collection
 * itself: RSS then shows live state, which is what an operator watching memory expects.
 * Owns only its timer; the caller says how much work the isolate did.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";
import type { ForceGcConfig } from "./config/types.ts";

/** Settings of {@linkcode startIdleGc} (config `force_gc`). */
export interface IdleGcOptions {
  /** How often the heap is looked at, ms; 0 = off. */
  readonly intervalMs: number;
  /** Heap growth over the last collection's survivors that makes a collection worth it. */
  readonly growthBytes: number;
  /** Work units (ring records, socket reads) above which an interval is not quiet. */
  readonly quietWork: number;
  /** Total work done so far by this isolate (monotonic). */
  readonly work: () => number;
  /** Told after each collection, for the log. */
  readonly collected?: (before: number, after: number, ms: number) => void;
}

type GcFunction = (opts?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => void;

let gcFunction: GcFunction | null | undefined;

/**
 * V8's gc(), without a command-line flag (so the compiled binary has it too): the flag is
 * process-wide, and a fresh context created after setting it carries the function.
 */
function exposedGc(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  try {
    v8.setFlagsFromString("--expose-gc");
    const fn: unknown = vm.runInNewContext("gc");
    gcFunction = typeof fn === "function" ? fn as GcFunction : null;
  } catch {
    gcFunction = null;
  }
  return gcFunction;
}

/** Starts the check timer (unref'd: it never keeps the isolate alive); returns its stop. */
export function startIdleGc(opts: IdleGcOptions): () => void {
  const gc = opts.intervalMs > 0 ? exposedGc() : null;
  if (!gc) return () => {};
  let live = Deno.memoryUsage().heapUsed;
  let lastWork = opts.work();
  const timer = setInterval(() => {
    const work = opts.work();
    const quiet = work - lastWork <= opts.quietWork;
    lastWork = work;
    const before = Deno.memoryUsage().heapTotal;
    if (!quiet || before - live < opts.growthBytes) return;
    const t0 = performance.now();
    gc({ type: "major", execution: "sync" });
    const after = Deno.memoryUsage();
    live = after.heapUsed;
    opts.collected?.(before, after.heapTotal, performance.now() - t0);
  }, opts.intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** startIdleGc with the `force_gc` config; `isolate` names the isolate in the debug log. */
export function startForceGc(
  cfg: ForceGcConfig,
  work: () => number,
  log: (message: string, props: Record<string, unknown>) => void,
  isolate: string,
): () => void {
  if (!cfg.enable) return () => {};
  const mib = (n: number) => (n / 1048576).toFixed(1);
  return startIdleGc({
    intervalMs: cfg.interval,
    growthBytes: cfg.heapGrowth,
    quietWork: cfg.quietRate * cfg.interval / 1000,
    work,
    collected: (before, after, ms) =>
      log("Idle GC in {isolate}: heap {before} MiB -> {after} MiB in {ms} ms", {
        isolate,
        before: mib(before),
        after: mib(after),
        ms: ms.toFixed(1),
      }),
  });
}
