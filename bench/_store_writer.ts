/**
 * One writer of bench/store_placement.ts, in its own worker isolate as a shard would be: commits
 * one batch per "pass" in a closed loop for the given time, each batch `batch` new queue rows
 * of its own persistent session plus the deletes of the previous batch (an online persistent
 * session: rows in, acks out). Placements: "shared" (its own connection to the one shared
 * file), "file" (its own file), "worker" (batches sent to the store worker over a port; the
 * commit time is the round trip until "committed"), "worker-p4" (the same with up to four
 * batches in flight, as a shard that goes on with its next passes while a commit is pending).
 */

import { makeKey, type StoreBatch as Batch, StoreClient } from "../src/store/mod.ts";
import { Store, StoreBatch } from "../src/store/mod.ts";
import type { Message } from "../src/mqtt/mod.ts";
import { setImmediate } from "node:timers";

export interface WriterJob {
  readonly placement: "shared" | "file" | "worker" | "worker-p4";
  readonly dir: string;
  readonly sync: "normal" | "full";
  readonly index: number;
  readonly batch: number;
  readonly ms: number;
  readonly port?: MessagePort;
}

export interface WriterResult {
  readonly rows: number;
  readonly lat: number[];
  readonly errors: number;
}

const payload = new Uint8Array(64).fill(0x61);

function message(i: number): Message {
  return {
    topic: `bench/${i}`,
    payload,
    qos: 1,
    retain: false,
    properties: {},
    origin: "pub",
    expiresAt: 0,
    timestamp: i,
  };
}

/** Fills `b` with one pass: `n` rows after `seq`, and the acks of the previous pass. */
function pass(b: Batch, sid: number, seq: number, n: number): void {
  for (let k = 1; k <= n; k++) {
    const m = message(seq + k);
    b.enqueue(
      sid,
      seq + k,
      { message: m, qos: 1, retain: false, subscriptionIds: [] },
      1 + (seq + k) % 65535,
    );
  }
  if (seq >= n) { for (let k = 1; k <= n; k++) b.done(sid, seq - n + k); }
}

async function run(job: WriterJob): Promise<WriterResult> {
  const sid = makeKey(job.index, 1);
  const b = new StoreBatch();
  b.session({
    sid,
    clientId: `writer-${job.index}`,
    protoVer: 5,
    expiryMs: -1,
    connected: true,
    disconnectedAt: 0,
    createdAt: 0,
    will: null,
    willDelayMs: 0,
  });
  const lat: number[] = [];
  let seq = 0, errors = 0;
  if (job.placement === "worker" || job.placement === "worker-p4") {
    const client = new StoreClient(job.port!);
    await client.commitAsync(b.take());
    const depth = job.placement === "worker" ? 1 : 4;
    const end = performance.now() + job.ms;
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const next = () => {
        while (inFlight < depth && performance.now() < end) {
          pass(b, sid, seq, job.batch);
          seq += job.batch;
          const t0 = performance.now();
          inFlight++;
          client.commit(b.take(), ([r]) => {
            lat.push(performance.now() - t0);
            if (r && "code" in r) errors++;
            inFlight--;
            next();
          });
        }
        if (inFlight === 0) resolve();
      };
      next();
    });
    client.close();
  } else {
    const dir = job.placement === "file" ? `${job.dir}/w${job.index}` : job.dir;
    const store = Store.open({ dir, sync: job.sync, maxStoreSize: 0, indexSpecs: [] });
    store.apply(b.take());
    const end = performance.now() + job.ms;
    while (performance.now() < end) {
      pass(b, sid, seq, job.batch);
      const t0 = performance.now();
      try {
        store.apply(b.take());
      } catch {
        errors++;
      }
      lat.push(performance.now() - t0);
      seq += job.batch;
      // A shard yields between passes; so does this loop (and lets other isolates take the lock).
      await new Promise((r) => setImmediate(r));
    }
    store.close();
  }
  return { rows: lat.length * job.batch, lat, errors };
}

const self_ = self as unknown as {
  onmessage: ((e: MessageEvent<WriterJob>) => void) | null;
  postMessage(m: WriterResult): void;
};
self_.onmessage = async (e) => self_.postMessage(await run(e.data));
