/**
 * Placement of the store file, measured (docs/store.md): 2-8 writer isolates committing one
 * batch per pass, as shards would, with
 * - "shared": one file, one connection per writer (WAL, busy_timeout 5 s, BEGIN IMMEDIATE);
 * - "worker": one store worker owning the file; writers send batches and wait for "committed"
 *   (the worker commits what arrived together in one transaction);
 * - "worker-p4": the same with up to four batches in flight per writer (a shard goes on with its
 *   next passes while a commit is pending; the synchronous placements cannot);
 * - "file":   one file per writer (no contention; breaks stable partitions, shown as a bound).
 * Reports rows/s, commits/s and commit latency (p50, p99, max) per placement, sync and batch.
 */

import { startStoreWorker } from "../src/store/mod.ts";
import type { WriterJob, WriterResult } from "./_store_writer.ts";

export interface PlacementRow {
  placement: string;
  sync: "normal" | "full";
  writers: number;
  batch: number;
  rowsPerSec: number;
  commitsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

const WRITER = new URL("./_store_writer.ts", import.meta.url);

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

async function once(
  placement: WriterJob["placement"],
  sync: "normal" | "full",
  writers: number,
  batch: number,
  ms: number,
): Promise<PlacementRow> {
  const dir = await Deno.makeTempDir({ prefix: "culex_store_place_", dir: Deno.cwd() });
  const handle = placement.startsWith("worker")
    ? await startStoreWorker({ dir, sync, maxStoreSize: 0, indexSpecs: [] })
    : null;
  const workers = Array.from(
    { length: writers },
    (_, i) => new Worker(WRITER, { type: "module", name: `writer-${i}` }),
  );
  try {
    const results = await Promise.all(
      workers.map((w, index) =>
        new Promise<WriterResult>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<WriterResult>) => resolve(e.data);
          w.onerror = (e) => reject(new Error(e.message));
          const port = handle?.connect();
          const job: WriterJob = {
            placement,
            dir,
            sync,
            index,
            batch,
            ms,
            ...(port ? { port } : {}),
          };
          w.postMessage(job, port ? [port] : []);
        })
      ),
    );
    const lat = results.flatMap((r) => r.lat).sort((a, b) => a - b);
    const rows = results.reduce((s, r) => s + r.rows, 0);
    return {
      placement,
      sync,
      writers,
      batch,
      rowsPerSec: Math.round(rows / (ms / 1000)),
      commitsPerSec: Math.round(lat.length / (ms / 1000)),
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      max: lat[lat.length - 1] ?? 0,
      errors: results.reduce((s, r) => s + r.errors, 0),
    };
  } finally {
    for (const w of workers) w.terminate();
    await handle?.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs every combination asked for; prints one line per run as it goes. */
export async function runPlacement(opts: {
  placements: WriterJob["placement"][];
  syncs: ("normal" | "full")[];
  writers: number[];
  batches: number[];
  ms: number;
}): Promise<PlacementRow[]> {
  const out: PlacementRow[] = [];
  for (const sync of opts.syncs) {
    for (const batch of opts.batches) {
      for (const writers of opts.writers) {
        for (const placement of opts.placements) {
          const r = await once(placement, sync, writers, batch, opts.ms);
          out.push(r);
          console.log(
            `placement ${r.placement.padEnd(6)} sync ${sync.padEnd(6)} writers ${writers} ` +
              `batch ${String(batch).padStart(4)}: ${String(r.rowsPerSec).padStart(7)} rows/s ` +
              `${String(r.commitsPerSec).padStart(6)} commits/s  p50 ${r.p50.toFixed(2)} ms ` +
              `p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms` +
              (r.errors ? `  errors ${r.errors}` : ""),
          );
        }
      }
    }
  }
  return out;
}
