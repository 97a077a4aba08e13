/**
 * A shard's start from the store (durable mode or a disc retainer): key counters, the disc
 * retainer's warm-up, delayed messages and persistent sessions of its partitions, before its
 * first pass. Private to src/shard/; what is loaded goes into the shard's services.
 */

import { partitionsOfShard } from "../ipc/mod.ts";
import { warmRetainedPath } from "./_warm_up.ts";
import { sessionPages } from "./_session_pages.ts";
import type { ShardServices } from "./shard_services.ts";

/** See Shard.load(); `flushAll` commits the shard's output (routes of restored sessions). */
export async function loadShard(svc: ShardServices, flushAll: () => void): Promise<void> {
  const store = svc.store;
  if (!store) return; // memory mode: nothing of this shard is stored
  const [first, end] = partitionsOfShard(svc.index, svc.count);
  const mine = Array.from({ length: end - first }, (_, i) => first + i);
  // One key counter per partition for sids and delayed ids alike (the store's nextKeys).
  store.setKeys(await store.client.readAsync({ kind: "nextKeys", partitions: mine }));
  // Delayed messages kept in the store (disc retainer or durable mode) of this shard's
  // partitions go back into its heap.
  // The disc retainer's lookup path, once, before "ready" (_warm_up.ts says why).
  if (svc.broker.disc) {
    await warmRetainedPath(store, svc.config.mqtt, svc.clock.now());
  }
  const delayed = await svc.delayed?.load() ?? 0;
  if (delayed > 0) {
    svc.log.info("Loaded {n} delayed messages from the store", { n: delayed });
  }
  if (!store.durable) return;
  const now = svc.clock.now();
  let loaded = 0;
  for await (const page of sessionPages(store, svc.config, mine, svc.log)) {
    for (const row of page) svc.registry.restore(row, now);
    loaded += page.length;
  }
  // Rows of sessions that were connected at the crash; routes to the peers.
  flushAll();
  if (loaded > 0) {
    svc.log.info("Shard {index} loaded {loaded} persistent session(s) from the store", {
      index: svc.index,
      loaded,
    });
  }
}
