/**
 * The read sections of `deno task bench:store` (store_bench.ts) on the data set (_store_data.ts):
 * - startup:  open the store and load what N shards need, directly and through the store worker;
 * - retained: "#" over every retained message, "sensor/+/temp" (one match per 1000).
 *
 * @module
 */

import process from "node:process";
import {
  allPartitions,
  type RetainedPage,
  startStoreWorker,
  Store,
  StoreClient,
} from "../src/store/mod.ts";
import { SPECS } from "./_store_data.ts";

/** CPU time of this process (every thread) since `from`, in ms. */
function cpuMs(from: { user: number; system: number }): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

/** The startup section on the data set in `dir`, for `shards` shards. */
export async function runStartup(dir: string, shards: number): Promise<Record<string, number>> {
  const parts = (i: number) => allPartitions().filter((p) => p % shards === i);
  let t0 = performance.now();
  const store = Store.open({ dir, sync: "normal", maxStoreSize: 0, indexSpecs: SPECS });
  const openMs = performance.now() - t0;
  t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let loaded = 0, subs = 0;
  for (let i = 0; i < shards; i++) {
    store.nextKeys(parts(i));
    store.delayed(parts(i));
    for (let after = 0;;) {
      const page = store.sessions(parts(i), after, 10_000);
      loaded += page.length;
      for (const s of page) subs += s.subscriptions.length;
      if (page.length < 10_000) break;
      after = page[page.length - 1]!.sid;
    }
  }
  const count = store.retainedCount();
  const loadMs = performance.now() - t0;
  const loadCpuMs = cpuMs(cpu0);
  store.close();
  // As the broker would: the store worker opens (checks, migrates), then every shard isolate
  // loads its partitions at once through its own read-only connection.
  t0 = performance.now();
  const w = await startStoreWorker({
    dir,
    sync: "normal",
    maxStoreSize: 0,
    indexSpecs: SPECS,
  });
  const workerOpenMs = performance.now() - t0;
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  const loaders = await Promise.all(Array.from({ length: shards }, (_, i) => {
    const lw = new Worker(new URL("./_store_loader.ts", import.meta.url), { type: "module" });
    return new Promise<{ sessions: number; ms: number }>((resolve, reject) => {
      lw.onmessage = (e) => {
        lw.terminate();
        resolve(e.data);
      };
      lw.onerror = (e) => reject(new Error(e.message));
      lw.postMessage({ dir, partitions: parts(i), specs: SPECS });
    });
  }));
  const shardLoadMs = performance.now() - t0;
  const shardLoadCpuMs = cpuMs(cpu0);
  // And through the worker protocol (structured clone of every page), for comparison.
  const clients = Array.from({ length: shards }, () => new StoreClient(w.connect()));
  t0 = performance.now();
  const viaWorker = await Promise.all(clients.map(async (c, i) => {
    let n = 0;
    await c.readAsync({ kind: "nextKeys", partitions: parts(i) });
    await c.readAsync({ kind: "delayed", partitions: parts(i) });
    for (let after = 0;;) {
      const page = await c.readAsync({
        kind: "sessions",
        partitions: parts(i),
        afterSid: after,
        limit: 10_000,
      });
      n += page.length;
      if (page.length < 10_000) return n;
      after = page[page.length - 1]!.sid;
    }
  }));
  const workerLoadMs = performance.now() - t0;
  for (const c of clients) c.close();
  await w.close();
  const r = {
    sessions: loaded,
    subscriptions: subs,
    retained: count,
    openMs,
    loadMs,
    loadCpuMs,
    workerOpenMs,
    shardLoadMs,
    shardLoadCpuMs,
    shardSessions: loaders.reduce((a, l) => a + l.sessions, 0),
    workerLoadMs,
    workerSessions: viaWorker.reduce((a, b) => a + b, 0),
  };
  const ms0 = (x: number) => x.toFixed(0);
  console.log(
    `startup, one isolate: open ${ms0(openMs)} ms, load ${loaded} sessions (${subs} ` +
      `subscriptions) for ${shards} shards + retained count ${count}: ${ms0(loadMs)} ms ` +
      `(CPU ${ms0(loadCpuMs)} ms)`,
  );
  console.log(
    `startup, as the broker: store worker open ${ms0(workerOpenMs)} ms + ${shards} shards ` +
      `loading in parallel (read-only connections) ${ms0(shardLoadMs)} ms ` +
      `(CPU ${ms0(shardLoadCpuMs)} ms, all threads) = ` +
      `${ms0(workerOpenMs + shardLoadMs)} ms; the same pages through the worker protocol: ` +
      `${ms0(workerLoadMs)} ms`,
  );
  return r;
}

/** The retained section on the data set in `dir`. */
export async function runRetained(dir: string): Promise<unknown[]> {
  const store = Store.open({ dir, sync: "normal", maxStoreSize: 0, indexSpecs: SPECS });
  const read = (filter: string, limit: number) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const page = store.retainedQuery(filter, cursor, limit);
      n += page.rows.length;
      cursor = page.next;
    }
    return { filter, rows: n, ms: performance.now() - t0, cpuMs: cpuMs(c0) };
  };
  const all = read("#", 1000);
  const temp = read("sensor/+/temp", 1000);
  const tempWarm = read("sensor/+/temp", 1000);
  const prefix = read("sensor/7/#", 1000);
  store.close();
  const w = await startStoreWorker({
    dir,
    sync: "normal",
    maxStoreSize: 0,
    indexSpecs: SPECS,
  });
  const c = new StoreClient(w.connect());
  let t0 = performance.now(), n = 0;
  const c0 = process.cpuUsage();
  for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
    const page: RetainedPage = await c.readAsync({
      kind: "retained",
      filter: "#",
      cursor,
      limit: 1000,
    });
    n += page.rows.length;
    cursor = page.next;
  }
  const allWorker = {
    filter: "# via worker",
    rows: n,
    ms: performance.now() - t0,
    cpuMs: cpuMs(c0),
  };
  t0 = performance.now();
  const tw = await c.readAsync({
    kind: "retained",
    filter: "sensor/+/temp",
    cursor: null,
    limit: 10_000,
  });
  const tempWorker = {
    filter: "sensor/+/temp via worker",
    rows: tw.rows.length,
    ms: performance.now() - t0,
  };
  c.close();
  await w.close();
  for (const r of [all, temp, tempWarm, prefix, allWorker, tempWorker]) {
    console.log(
      `retained ${r.filter.padEnd(26)} ${String(r.rows).padStart(8)} rows in ${
        r.ms.toFixed(1)
      } ms` +
        ("cpuMs" in r ? ` (CPU ${(r.cpuMs as number).toFixed(0)} ms)` : ""),
    );
  }
  return [all, temp, tempWarm, prefix, allWorker, tempWorker];
}
