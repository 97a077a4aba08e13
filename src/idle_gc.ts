/**
 * Idle garbage collection, per isolate (EMQX has `force_gc` for the same reason). V8 collects
 * young garbage at once but leaves a heap that grew during a burst (a connection storm, a flood)
 * for its memory reducer, which ran 25-30 s after the burst here, or never while a trickle of
 * keepalive pings keeps the isolate from looking idle. So an isolate whose heap grew well past
 * what the last full collection kept alive, and that is quiet, asks for one full collection
 * itself: RSS then shows live state, which is what an operator watching memory expects.
 * After that collection (or, when V8 already collected the burst itself, once the isolate is quiet
 * after one) it also returns the C heap's free pages to the system (glibc's `malloc_trim`,
 * `force_gc.trim_native`): a burst frees most of what Deno allocated natively for
 * it (socket resources, array buffer stores), but glibc keeps freed chunks that are not at the top
 * of an arena, so RSS stayed about 1 KB per connection of the burst above what was live.
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
  /** Also give the C heap's free pages back after each collection (where that is possible). */
  readonly trimNative?: boolean;
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

type TrimFunction = () => void;

let trimFunction: TrimFunction | null | undefined;

/**
 * glibc's `malloc_trim(0)` over FFI, or null where it is not available: not Linux, not glibc (the
 * library does not open), or no FFI permission (`--allow-ffi`; asked with querySync, so never a
 * prompt). It walks every arena of the process, so any isolate may call it.
 */
export function nativeTrim(): TrimFunction | null {
  if (trimFunction !== undefined) return trimFunction;
  trimFunction = null;
  try {
    if (Deno.build.os !== "linux") return null;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    trimFunction = () => void libc.symbols.malloc_trim(0n);
  } catch {
    trimFunction = null; // musl or another libc: nothing to trim with
  }
  return trimFunction;
}

/** Starts the check timer (unref'd: it never keeps the isolate alive); returns its stop. */
export function startIdleGc(opts: IdleGcOptions): () => void {
  const gc = opts.intervalMs > 0 ? exposedGc() : null;
  if (!gc) return () => {};
  const trim = opts.trimNative ? nativeTrim() : null;
  let live = Deno.memoryUsage().heapUsed;
  let lastWork = opts.work();
  let trimmedAt = lastWork;
  const timer = setInterval(() => {
    const work = opts.work();
    const quiet = work - lastWork <= opts.quietWork;
    lastWork = work;
    if (!quiet) return;
    const before = Deno.memoryUsage().heapTotal;
    if (before - live < opts.growthBytes) {
      // No collection worth it (V8 may have collected the burst itself), but native memory freed
      // since the last trim is still held by glibc: trim once per burst (at least an interval's
      // worth of work since the last trim), a few ms at most.
      if (trim && work - trimmedAt > opts.quietWork) {
        trim();
        trimmedAt = work;
      }
      return;
    }
    const t0 = performance.now();
    gc({ type: "major", execution: "sync" });
    if (trim) {
      trim();
      trimmedAt = work;
    }
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
    trimNative: cfg.trimNative,
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
