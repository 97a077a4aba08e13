/**
 * The `commit` section of `deno task bench:store` (store_bench.ts): one connection, the store
 * worker's own cost: rows/s and commit latency for sync normal/full, batches of queue rows,
 * queued or acked.
 *
 * @module
 */

import { Store, StoreBatch } from "../src/store/mod.ts";
import { benchMessage, benchSid } from "./_store_data.ts";

const q = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;

/** Runs the section for each batch size, `ms` per run; one row per run. */
export function runCommit(batches: readonly number[], ms: number): unknown[] {
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
  return rows;
}
