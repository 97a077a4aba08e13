/**
 * Data sets of bench/store_bench.ts, written with the Store itself: persistent sessions (two
 * subscriptions each, a will for one in ten, one queued message each) spread over the 1024
 * partitions, and retained messages "sensor/<n>/<metric>" of which "sensor/+/temp" matches one
 * per sensor. Kept in a directory that later runs reuse (--data).
 */

import type { Message } from "../src/mqtt/mod.ts";
import { makeKey, Store, StoreBatch } from "../src/store/mod.ts";

export const SPECS = [[1, 2, 3], [1, 3], [2, 3], [3]];

const payload = new Uint8Array(64).fill(0x62);

export function benchMessage(topic: string, retain = false): Message {
  return {
    topic,
    payload,
    qos: 1,
    retain,
    properties: {},
    origin: "bench",
    expiresAt: 0,
    timestamp: 1,
  };
}

/** The sid of the i-th bench session (partition i % 1024). */
export function benchSid(i: number): number {
  return makeKey(i % 1024, Math.floor(i / 1024) + 1);
}

/** Writes `sessions` sessions and `retained` retained messages unless the dir has them. */
export function ensureDataSet(dir: string, sessions: number, retained: number): void {
  const marker = `${dir}/dataset-${sessions}-${retained}`;
  try {
    Deno.statSync(marker);
    return;
  } catch { /* build it */ }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* none */ }
  const t0 = performance.now();
  // A big cache for the bulk load only; the measured opens use the default.
  const store = Store.open({
    dir,
    sync: "normal",
    maxStoreSize: 0,
    indexSpecs: SPECS,
    cacheKiB: 512 * 1024,
  });
  const b = new StoreBatch();
  for (let i = 0; i < sessions; i++) {
    const sid = benchSid(i);
    b.session({
      sid,
      clientId: `device-${i}`,
      protoVer: i % 2 === 0 ? 5 : 4,
      expiryMs: -1,
      connected: false,
      disconnectedAt: 1,
      createdAt: 1,
      will: i % 10 === 0 ? benchMessage(`device/${i}/status`) : null,
      willDelayMs: 0,
    });
    const opts = {
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionId: 0,
    } as const;
    b.subscribe(sid, `device/${i}/cmd`, opts);
    b.subscribe(sid, `group/${i % 100}/#`, opts);
    b.enqueue(sid, 1, {
      message: benchMessage(`device/${i}/cmd`),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    if (b.size >= 40_000) store.apply(b.take());
  }
  store.apply(b.take());
  const sensors = Math.max(1, Math.round(retained / 1000));
  let n = 0;
  for (let s = 0; s < sensors && n < retained; s++) {
    for (let m = 0; m < 1000 && n < retained; m++, n++) {
      const topic = `sensor/${s}/${m === 0 ? "temp" : `m${m}`}`;
      b.retain(n % 1024, benchMessage(topic, true));
    }
    if (b.size >= 100_000) store.apply(b.take());
  }
  store.apply(b.take());
  store.checkpoint();
  store.close();
  Deno.writeTextFileSync(marker, new Date().toISOString());
  console.log(
    `data set: ${sessions} sessions, ${retained} retained written in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
      `${(Deno.statSync(`${dir}/culex.db`).size / 2 ** 20).toFixed(0)} MiB`,
  );
}
