/**
 * Child of bench/store_bench.ts (section rss): RSS of this process (main isolate + the store
 * worker) before and after queueing N messages for offline persistent sessions through the
 * store worker, as a shard would in durable mode. Prints one JSON line.
 */

import { startStoreWorker, StoreBatch, StoreClient } from "../src/store/mod.ts";
import { benchMessage, benchSid } from "./_store_data.ts";

const queued = Number(Deno.args[0] ?? 1_000_000);
const sessions = 10_000;
const dir = Deno.makeTempDirSync({ prefix: "culex_store_rss_", dir: Deno.cwd() });
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rssMiB = () => Deno.memoryUsage().rss / 2 ** 20;

const w = await startStoreWorker({ dir, sync: "normal", maxStoreSize: 0, indexSpecs: [] });
const c = new StoreClient(w.connect());
const b = new StoreBatch();
for (let i = 0; i < sessions; i++) {
  b.session({
    sid: benchSid(i),
    clientId: `offline-${i}`,
    protoVer: 5,
    expiryMs: -1,
    connected: false,
    disconnectedAt: 1,
    createdAt: 1,
    will: null,
    willDelayMs: 0,
  });
}
await c.commitAsync(b.take());
gc();
await new Promise((r) => setTimeout(r, 500));
const before = rssMiB();
const t0 = performance.now();
const perSession = Math.ceil(queued / sessions);
let n = 0;
// One message fanned out to 1,000 offline sessions per batch: the shape of a shard's pass.
for (let seq = 1; n < queued && seq <= perSession; seq++) {
  for (let base = 0; base < sessions && n < queued; base += 1000) {
    const m = benchMessage(`fan/${seq}/${base}`);
    for (let i = base; i < base + 1000 && n < queued; i++, n++) {
      b.enqueue(benchSid(i), seq, { message: m, qos: 1, retain: false, subscriptionIds: [] });
    }
    await c.commitAsync(b.take());
  }
}
const rowsPerSec = Math.round(n / ((performance.now() - t0) / 1000));
gc();
await new Promise((r) => setTimeout(r, 1000));
const after = rssMiB();
c.close();
await w.close();
const fileMiB = Deno.statSync(`${dir}/culex.db`).size / 2 ** 20;
Deno.removeSync(dir, { recursive: true });
const r1 = (x: number) => Math.round(x * 10) / 10;
console.log(JSON.stringify({
  queued: n,
  sessions,
  beforeMiB: r1(before),
  afterMiB: r1(after),
  growthMiB: r1(after - before),
  fileMiB: r1(fileMiB),
  rowsPerSec,
}));
