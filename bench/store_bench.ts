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
import { ensureDataSet } from "./_store_data.ts";
import { runCommit } from "./store_commit.ts";
import { runPlacement } from "./store_placement.ts";
import { runRetained, runStartup } from "./store_reads.ts";
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

if (sections.has("commit")) {
  results.commit = runCommit(batches, ms);
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
  results.startup = await runStartup(f.data, shards);
}

if (sections.has("retained")) {
  results.retained = await runRetained(f.data);
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
