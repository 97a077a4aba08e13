/**
 * `deno task bench:store`: the durable store's figures (bench/README.md, docs/store.md).
 * Sections (--sections, default all):
 * - commit:    one connection (the store worker's own cost): rows/s and commit latency for
 *              sync normal/full, batches of 1, 10, 100, 1000 queue rows, queued or acked;
 * - placement: shared file vs store worker vs file per writer, 2-8 writers (store_placement.ts);
 * - startup:   open a store of --sessions persistent sessions and --retained retained messages
 *              and load what N shards need, directly and through the store worker;
 * - retained:  "#" over every retained message, "sensor/+/temp" (one match per 1000);
 * - rss:       RSS growth for --queued messages queued for offline sessions (a child process);
 * - broker:    a Culex process with the disc retainer on that data set: start to listening,
 *              "#" and "sensor/+/temp" subscribers (store_broker.ts), --runs times;
 * - restart:   a Culex process in durable mode on a copy of that data set: spawn to listening
 *              and to a restored session's queued message (store_restart.ts), --runs times;
 * - queue-rss: a Culex process in durable mode: its RSS growth for --queued QoS 1 messages
 *              published to --queue-sessions offline persistent sessions (store_queue_rss.ts).
 * Writes bench/results/store.json.
 */

import { parseArgs } from "node:util";
import process from "node:process";
import {
  allPartitions,
  type RetainedPage,
  startStoreWorker,
  Store,
  StoreBatch,
  StoreClient,
} from "../src/store/mod.ts";
import { benchMessage, benchSid, ensureDataSet, SPECS } from "./_store_data.ts";
import { runPlacement } from "./store_placement.ts";
import { runBrokerRetained } from "./store_broker.ts";
import { runQueueRss } from "./store_queue_rss.ts";
import { runRestart } from "./store_restart.ts";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    sections: {
      type: "string",
      default: "commit,placement,startup,retained,rss,broker,queue-rss",
    },
    "queue-sessions": { type: "string", default: "100" },
    publishers: { type: "string", default: "10" },
    settle: { type: "string", default: "30000" },
    runs: { type: "string", default: "3" },
    duration: { type: "string", default: "2" },
    sessions: { type: "string", default: "100000" },
    retained: { type: "string", default: "1000000" },
    queued: { type: "string", default: "1000000" },
    shards: { type: "string", default: "2" },
    writers: { type: "string", default: "2,4,8" },
    batches: { type: "string", default: "1,10,100,1000" },
    data: { type: "string", default: "bench/results/store-data" },
    out: { type: "string", default: "bench/results/store.json" },
    // broker: skip the "#" read (5-10 s a run) when only the sensor/+/temp figures are wanted.
    "no-hash": { type: "boolean", default: false },
  },
  strict: true,
});
const sections = new Set(f.sections.split(","));
const ms = Number(f.duration) * 1000;
const batches = f.batches.split(",").map(Number);
const results: Record<string, unknown> = { deno: Deno.version.deno, at: new Date().toISOString() };
const q = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
/** CPU time of this process (every thread) since `from`, in ms. */
function cpuMs(from: { user: number; system: number }): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

if (sections.has("commit")) {
  const rows: unknown[] = [];
  for (const sync of ["normal", "full"] as const) {
    for (const acked of [false, true]) {
      for (const batch of batches) {
        const dir = Deno.makeTempDirSync({ prefix: "culex_store_commit_", dir: Deno.cwd() });
        const store = Store.open({ dir, sync, maxStoreSize: 0, indexSpecs: [] });
        const b = new StoreBatch();
        const sessions = 100;
        for (let i = 0; i < sessions; i++) {
          b.session({
            sid: benchSid(i),
            clientId: `c${i}`,
            protoVer: 5,
            expiryMs: -1,
            connected: acked,
            disconnectedAt: 0,
            createdAt: 0,
            will: null,
            willDelayMs: 0,
          });
        }
        store.apply(b.take());
        const lat: number[] = [];
        let seq = 0;
        const end = performance.now() + ms;
        while (performance.now() < end) {
          for (let k = 1; k <= batch; k++) {
            const i = (seq + k) % sessions;
            b.enqueue(benchSid(i), seq + k, {
              message: benchMessage(`q/${i}`),
              qos: 1,
              retain: false,
              subscriptionIds: [],
            }, acked ? 1 : 0);
            if (acked && seq + k > batch) {
              b.done(benchSid((seq + k - batch) % sessions), seq + k - batch);
            }
          }
          const t0 = performance.now();
          store.apply(b.take());
          lat.push(performance.now() - t0);
          seq += batch;
        }
        store.close();
        Deno.removeSync(dir, { recursive: true });
        lat.sort((a, c) => a - c);
        const r = {
          sync,
          mode: acked ? "insert+ack" : "queue",
          batch,
          rowsPerSec: Math.round(seq / (ms / 1000)),
          commitsPerSec: Math.round(lat.length / (ms / 1000)),
          mean: lat.reduce((a, c) => a + c, 0) / Math.max(1, lat.length),
          p50: q(lat, 0.5),
          p99: q(lat, 0.99),
        };
        rows.push(r);
        console.log(
          `commit sync ${sync.padEnd(6)} ${r.mode.padEnd(10)} batch ${
            String(batch).padStart(4)
          }: ` +
            `${String(r.rowsPerSec).padStart(7)} rows/s  mean ${r.mean.toFixed(3)} ms  ` +
            `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`,
        );
      }
    }
  }
  results.commit = rows;
}

if (sections.has("placement")) {
  results.placement = await runPlacement({
    placements: ["shared", "worker", "worker-p4", "file"],
    syncs: ["normal", "full"],
    writers: f.writers.split(",").map(Number),
    batches,
    ms,
  });
}

const sessionsN = Number(f.sessions), retainedN = Number(f.retained), shards = Number(f.shards);
if (
  sections.has("startup") || sections.has("retained") || sections.has("broker") ||
  sections.has("restart")
) {
  ensureDataSet(f.data, sessionsN, retainedN);
}

if (sections.has("startup")) {
  const parts = (i: number) => allPartitions().filter((p) => p % shards === i);
  let t0 = performance.now();
  const store = Store.open({ dir: f.data, sync: "normal", maxStoreSize: 0, indexSpecs: SPECS });
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
    dir: f.data,
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
      lw.postMessage({ dir: f.data, partitions: parts(i), specs: SPECS });
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
  results.startup = r;
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
}

if (sections.has("retained")) {
  const store = Store.open({ dir: f.data, sync: "normal", maxStoreSize: 0, indexSpecs: SPECS });
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
    dir: f.data,
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
  results.retained = [all, temp, tempWarm, prefix, allWorker, tempWorker];
  for (const r of [all, temp, tempWarm, prefix, allWorker, tempWorker]) {
    console.log(
      `retained ${r.filter.padEnd(26)} ${String(r.rows).padStart(8)} rows in ${
        r.ms.toFixed(1)
      } ms` +
        ("cpuMs" in r ? ` (CPU ${(r.cpuMs as number).toFixed(0)} ms)` : ""),
    );
  }
}

if (sections.has("rss")) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./_store_rss.ts", import.meta.url).pathname,
      f.queued,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).outputSync();
  const text = new TextDecoder().decode(child.stdout).trim();
  const r = JSON.parse(text.slice(text.lastIndexOf("{")));
  results.rss = r;
  console.log(
    `rss: ${r.queued} queued messages for ${r.sessions} offline sessions: RSS ${r.beforeMiB} -> ${r.afterMiB} MiB (+${r.growthMiB} MiB), store file ${r.fileMiB} MiB, ${r.rowsPerSec} rows/s`,
  );
}

if (sections.has("broker")) {
  results.broker = await runBrokerRetained(f.data, retainedN, shards, Number(f.runs), {
    hash: !f["no-hash"],
  });
}

if (sections.has("restart")) {
  results.restart = await runRestart(f.data, shards, Number(f.runs));
}

if (sections.has("queue-rss")) {
  const r = await runQueueRss(
    Number(f.queued),
    Number(f["queue-sessions"]),
    Number(f.publishers),
    Number(f.settle),
  );
  results.queueRss = r;
  console.log(
    `queue-rss: ${r.queued} QoS 1 messages queued for ${r.sessions} offline sessions through ` +
      `the broker in ${r.publishMs} ms (${r.msgsPerSec} msg/s): broker RSS ${r.beforeMiB} -> ` +
      `${r.afterMiB} MiB (+${r.growthMiB}), settled ${r.settledMiB} MiB (+${r.settledGrowthMiB}), ` +
      `peak ${r.peakMiB} MiB; store ${r.fileMiB} MiB`,
  );
}

Deno.mkdirSync(f.out.slice(0, f.out.lastIndexOf("/")), { recursive: true });
Deno.writeTextFileSync(f.out, JSON.stringify(results, null, 2));
console.log(`results: ${f.out}`);
