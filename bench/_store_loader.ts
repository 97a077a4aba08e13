/**
 * One shard's start-up load for bench/store_bench.ts (section startup), in its own isolate as
 * a shard would do it: a read-only connection beside the store worker, its partitions' next
 * keys, delayed messages and persistent sessions page by page; then it closes the connection.
 */

import { Store } from "../src/store/mod.ts";

interface Job {
  readonly dir: string;
  readonly partitions: number[];
  readonly specs: number[][];
}

const self_ = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(m: { sessions: number; subscriptions: number; ms: number }): void;
};
self_.onmessage = (e) => {
  const t0 = performance.now();
  const { dir, partitions, specs } = e.data;
  const store = Store.open({
    dir,
    sync: "normal",
    maxStoreSize: 0,
    indexSpecs: specs,
    readOnly: true,
  });
  store.nextKeys(partitions);
  store.delayed(partitions);
  let sessions = 0, subscriptions = 0;
  for (let after = 0;;) {
    const page = store.sessions(partitions, after, 10_000);
    sessions += page.length;
    for (const s of page) subscriptions += s.subscriptions.length;
    if (page.length < 10_000) break;
    after = page[page.length - 1]!.sid;
  }
  store.close();
  self_.postMessage({ sessions, subscriptions, ms: performance.now() - t0 });
};
