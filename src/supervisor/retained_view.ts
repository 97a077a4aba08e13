/**
 * StoredRetained: the HTTP API's and ctl's view of retained messages kept on disc
 * (`retainer.backend.storage_type: disc`). They are in the store file, not in the shards, so
 * BrokerControl answers the count, listings, one message and deletes through the supervisor's
 * own store port instead of asking every shard. Listings read the file with the `#` plan plus
 * the `$`-topics (`$SYS/#` is the only `$` root the broker itself retains under) page by page;
 * a page deep in a large store costs reading the rows before it (as EMQX's offset paging).
 * Owns nothing: the rows are the store's.
 *
 * @module
 */

import { encodeBase64 } from "../bytes.ts";
import { decodeMessage, type Message } from "../mqtt/mod.ts";
import {
  isRefusal,
  MAX_READ_LIMIT,
  type RetainedPage,
  StoreBatch,
  type StoreClient,
  StoreError,
} from "../store/mod.ts";

/** EMQX's retained message fields (GET /mqtt/retainer/messages). */
export function retainedJson(m: Message, withPayload: boolean): Record<string, unknown> {
  return {
    topic: m.topic,
    qos: m.qos,
    publish_at: m.timestamp > 0 ? new Date(m.timestamp).toISOString() : null,
    from_clientid: m.origin,
    ...(withPayload ? { payload: encodeBase64(m.payload) } : {}),
  };
}

/** Retained messages read from the store. */
export class StoredRetained {
  readonly #store: StoreClient;

  constructor(store: StoreClient) {
    this.#store = store;
  }

  /** Live retained messages in the file. */
  count(): Promise<number> {
    return this.#store.readAsync({ kind: "retainedCount" });
  }

  /** One topic's message with its payload, or null. */
  async get(topic: string): Promise<Record<string, unknown> | null> {
    const page = await this.#store.readAsync({
      kind: "retained",
      filter: topic,
      cursor: null,
      limit: 1,
    });
    const row = page.rows[0];
    return row ? retainedJson(decodeMessage(row.body), true) : null;
  }

  /** Deletes one topic's message; false when there was none. */
  async delete(topic: string): Promise<boolean> {
    const had = (await this.get(topic)) !== null;
    const b = new StoreBatch();
    // The clear's time: a peer's older write committed after the delete is refused by the store.
    b.retainDelete(topic, undefined, Date.now());
    const [r] = await this.#store.commitAsync(b.take());
    if (r && isRefusal(r)) throw new StoreError(r.code, r.message);
    return had;
  }

  /** Deletes every retained message matching `filter`; their topics. */
  async clean(filter: string): Promise<string[]> {
    const topics: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const page: RetainedPage = await this.#store.readAsync({
        kind: "retained",
        filter,
        cursor,
        limit: MAX_READ_LIMIT,
      });
      if (page.rows.length > 0) {
        const b = new StoreBatch();
        const at = Date.now();
        for (const row of page.rows) b.retainDelete(row.topic, undefined, at);
        const [r] = await this.#store.commitAsync(b.take());
        if (r && isRefusal(r)) throw new StoreError(r.code, r.message);
        for (const row of page.rows) topics.push(row.topic);
      }
      cursor = page.next;
    }
    return topics;
  }

  /**
   * Every live retained message but the `$` topics (`$SYS` is per node), page by page as
   * [topic, encoded Message], for another node's copy (the full set on link up).
   */
  async *exportPages(now = Date.now()): AsyncGenerator<[string, Uint8Array][]> {
    let cursor: string | null = null;
    do {
      const page: RetainedPage = await this.#store.readAsync({
        kind: "retained",
        filter: "#",
        cursor,
        limit: MAX_READ_LIMIT,
      });
      const out: [string, Uint8Array][] = [];
      for (const row of page.rows) {
        const m = decodeMessage(row.body, row.topic);
        if (m.expiresAt === 0 || m.expiresAt > now) out.push([row.topic, row.body]);
      }
      if (out.length > 0) yield out;
      cursor = page.next;
    } while (cursor !== null);
  }

  /** Rows `offset` to `offset + limit` of the listing (no payloads), and the total. */
  async list(
    offset: number,
    limit: number,
    topic: string | null,
  ): Promise<{ total: number; items: Record<string, unknown>[] }> {
    if (topic !== null) {
      const page = await this.#store.readAsync({
        kind: "retained",
        filter: topic,
        cursor: null,
        limit: 1,
      });
      const row = page.rows[0];
      const items = row && offset === 0 && limit > 0
        ? [retainedJson(decodeMessage(row.body), false)]
        : [];
      return { total: row ? 1 : 0, items };
    }
    const total = await this.count();
    const items: Record<string, unknown>[] = [];
    let skip = offset;
    for (const filter of ["#", "$SYS/#"]) {
      let cursor: string | null = null;
      do {
        const page: RetainedPage = await this.#store.readAsync({
          kind: "retained",
          filter,
          cursor,
          limit: MAX_READ_LIMIT,
        });
        for (const row of page.rows) {
          if (skip > 0) skip--;
          else if (items.length < limit) items.push(retainedJson(decodeMessage(row.body), false));
        }
        cursor = page.next;
      } while (cursor !== null && items.length < limit);
      if (items.length >= limit) break;
    }
    return { total, items };
  }
}
