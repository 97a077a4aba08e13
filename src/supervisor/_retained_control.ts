/**
 * RetainedControl: the node's retained messages as BrokerControl lists, reads and deletes them:
 * from the shards that own their topics, or from the file with `retainer.backend.storage_type:
 * disc` (the shards hold none then). Deletes are reported through `cleared` (the cluster sends
 * them to the other nodes). Private to src/supervisor/.
 *
 * @module
 */

import type { StoreClient } from "../store/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";
import { StoredRetained } from "./retained_view.ts";
import {
  type Json,
  pageAcross,
  type Paged,
  paged,
  pageOf,
  type PageQuery,
  type ShardLists,
} from "./_paging.ts";

/** What it works with: the shards, placement, and who is told of deletes. */
export interface RetainedParts {
  readonly rpc: ShardRpc;
  readonly lists: ShardLists;
  shardOf(key: string): number;
  cleared(topics: readonly string[]): void;
}

/** See the file header. */
export class RetainedControl {
  readonly #parts: RetainedParts;
  /** Set with `retainer.backend.storage_type: disc`: retained messages are read from the file. */
  #retained: StoredRetained | null = null;

  constructor(parts: RetainedParts) {
    this.#parts = parts;
  }

  /** Reads, lists and deletes from the file from now on (disc retainer). */
  readFromDisc(store: StoreClient): void {
    this.#retained = new StoredRetained(store);
  }

  /** The count kept in the file; null when the shards hold the retained messages. */
  count(): Promise<number> | null {
    return this.#retained ? this.#retained.count() : null;
  }

  /** Retained messages of every shard (no payloads), paged. */
  async list(query: PageQuery & { topic?: string }): Promise<Paged<Json>> {
    if (this.#retained) {
      const { page, limit } = pageOf(query);
      const p = await this.#retained.list((page - 1) * limit, limit, query.topic ?? null);
      return paged(p.items, page, limit, p.total);
    }
    return pageAcross(
      this.#parts.lists,
      "retained.list",
      query,
      query.topic ? { topic: query.topic } : {},
    );
  }

  /** One retained message with its payload (base64), or null. */
  get(topic: string): Promise<Json | null> {
    if (this.#retained) return this.#retained.get(topic);
    return this.#parts.rpc.call(this.#parts.shardOf(topic), "retained.get", { topic });
  }

  /** Deletes one retained message; false when there was none. */
  async delete(topic: string): Promise<boolean> {
    const had = this.#retained
      ? await this.#retained.delete(topic)
      : await this.#parts.rpc.call<boolean>(this.#parts.shardOf(topic), "retained.delete", {
        topic,
      });
    if (had) this.#parts.cleared([topic]);
    return had;
  }

  /** Deletes the retained messages matching `filter` (all with "#") on every shard; the count. */
  async clean(filter = "#"): Promise<number> {
    const topics = this.#retained
      ? await this.#retained.clean(filter)
      : (await this.#parts.rpc.gather<string[]>("retained.clean", { topic: filter, list: true }))
        .flat();
    if (topics.length > 0) this.#parts.cleared(topics);
    return topics.length;
  }
}
