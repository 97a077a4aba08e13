/**
 * Worker for `deno task fuzz`: runs one flood (tests/_helpers/fuzz/flood.ts) in its own isolate
 * and thread, so that generating and writing a thousand connections a second does not sit in the
 * event loop that times the healthy clients. Messages: in {ev: "start", options} and
 * {ev: "stop"}; out {ev: "progress", stats} every second and {ev: "done", stats} once. Owns the
 * flood's sockets (127.0.0.1 only, see flood.ts).
 */

/// <reference lib="deno.worker" />

import { Flood, type FloodOptions, type FloodStats } from "../tests/_helpers/fuzz/flood.ts";

/** Messages the worker takes. */
export type FloodWorkerIn = { ev: "start"; options: FloodOptions } | { ev: "stop" };
/** Messages the worker sends. */
export type FloodWorkerOut = { ev: "progress" | "done"; stats: FloodStats };

let flood: Flood | null = null;

self.onmessage = async (e: MessageEvent<FloodWorkerIn>) => {
  const msg = e.data;
  if (msg.ev === "stop") {
    flood?.stop();
    return;
  }
  if (flood) return; // one flood per worker
  const f = new Flood(msg.options);
  flood = f;
  const timer = setInterval(() => {
    self.postMessage({ ev: "progress", stats: f.stats } satisfies FloodWorkerOut);
  }, 1_000);
  const stats = await f.start();
  clearInterval(timer);
  self.postMessage({ ev: "done", stats } satisfies FloodWorkerOut);
};
