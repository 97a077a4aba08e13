/**
 * BanControl: the node's ban list as BrokerControl changes it. Every isolate keeps its own copy
 * (the supervisor's and each shard's, kept equal through here), and the store keeps them across
 * restarts (docs/store.md): loaded at start with the expired ones deleted, added and removed
 * there before they are in force. Private to src/supervisor/; owns the supervisor's store port
 * for bans once attached.
 */

import type { BanEntry, BanInput, Banned } from "../auth/mod.ts";
import {
  type BanRecord,
  isRefusal,
  StoreBatch,
  type StoreClient,
  StoreError,
  type WireBatch,
} from "../store/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";

/** See the file header. */
export class BanControl {
  readonly #rpc: ShardRpc;
  readonly #banned: Banned;
  /** The supervisor's port to the store: bans are kept there (docs/store.md). */
  #store: StoreClient | null = null;

  constructor(rpc: ShardRpc, banned: Banned) {
    this.#rpc = rpc;
    this.#banned = banned;
  }

  /** Keeps bans in `store` from now on. */
  keepIn(store: StoreClient): void {
    this.#store = store;
  }

  /** Bans kept in the store: the expired ones deleted, the others in force everywhere. */
  async load(store: StoreClient, now: number): Promise<number> {
    const live: BanEntry[] = [];
    const expired = new StoreBatch();
    for (let after: BanRecord | null = null;;) {
      const page: BanRecord[] = await store.readAsync({ kind: "banned", after, limit: 1000 });
      for (const r of page) {
        const entry = { ...r, until: r.until ?? Infinity } as BanEntry;
        if (entry.until <= now) expired.banDelete(r.as, r.who);
        else live.push(entry);
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!;
    }
    if (expired.size > 0) await this.#commit(expired.take());
    let loaded = 0;
    for (const entry of live) {
      try {
        if ("added" in this.#banned.add(entry)) loaded++;
      } catch {
        continue; // expired between the read and now, or no longer valid: not spread
      }
      await this.#rpc.gather("banned.add", { entry });
    }
    return loaded;
  }

  /** See BrokerControl.listBans. */
  list(): BanEntry[] {
    this.#banned.purge();
    return this.#banned.list();
  }

  /** See BrokerControl.addBan. */
  async add(input: BanInput): Promise<{ added: BanEntry } | { exists: BanEntry }> {
    const r = this.#banned.add(input);
    const entry = "added" in r ? r.added : r.exists;
    if ("added" in r && this.#store) {
      const b = new StoreBatch();
      b.ban({ ...entry, until: entry.until === Infinity ? null : entry.until });
      try {
        await this.#commit(b.take());
      } catch (err) {
        this.#banned.delete(entry.as, entry.who); // not kept: not in force either
        throw err;
      }
    }
    await this.#rpc.gather("banned.add", { entry });
    return r;
  }

  /** See BrokerControl.deleteBan. */
  async delete(as: BanEntry["as"], who: string): Promise<boolean> {
    const had = this.#banned.delete(as, who);
    if (this.#store) {
      const b = new StoreBatch();
      b.banDelete(as, who);
      await this.#commit(b.take());
    }
    await this.#rpc.gather("banned.delete", { as, who });
    return had;
  }

  /** Commits a batch through the supervisor's port; a refusal throws its StoreError. */
  async #commit(batch: WireBatch): Promise<void> {
    const [r] = await this.#store!.commitAsync(batch);
    if (r && isRefusal(r)) throw new StoreError(r.code, r.message);
  }
}
