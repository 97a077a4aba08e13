/**
 * DiscRetained: retained messages with `retainer.backend.storage_type: disc`. They live in the
 * store file, not in the shards: any shard writes a topic's message (the file has every
 * partition; the row keeps its topic's partition) and any shard reads what a new subscription
 * matches, page by page, through the plan of src/store/retained_plan.ts, so a wildcard read only
 * touches the rows its levels can match. The store keeps the count and enforces
 * `retainer.backend.max_retained_messages` (a new topic over it is refused in the commit's
 * result). Writes join the shard's pass commit (ShardStore, durable.ts); a QoS 1/2 retained publish is
 * acknowledged after it (handlers/publish.ts). Owns no messages: only the pages being delivered.
 *
 * @module
 */

import { partitionOf } from "../ipc/mod.ts";
import { decodeMessage, type Message } from "../mqtt/mod.ts";
import { StoreError } from "../store/mod.ts";
import type { ShardStore } from "./durable.ts";

/** Rows per read: big enough that a `#` read of 1,000,000 rows is 200 round trips. */
export const RETAINED_PAGE = 5000;

/** Why a retained message was not stored (as the in-memory Retainer says it). */
export type RetainRefusal = "refused" | "too_large";

/** The disc retainer of one shard. */
export class DiscRetained {
  readonly #pass: ShardStore;
  readonly #maxPayload: number;
  readonly #onRefused: (why: RetainRefusal) => void;
  readonly #onReadError: (filter: string, err: StoreError) => void;
  /** Lookups whose pages are being read and delivered. */
  #reading = 0;
  /** The store part whose commit result is already watched for refusals. */
  #watchedPart = -1;

  constructor(
    pass: ShardStore,
    maxPayload: number,
    onRefused: (why: RetainRefusal) => void,
    onReadError: (filter: string, err: StoreError) => void,
  ) {
    this.#pass = pass;
    this.#maxPayload = maxPayload;
    this.#onRefused = onRefused;
    this.#onReadError = onReadError;
  }

  /** Lookups in progress (for tests and stats). */
  get reading(): number {
    return this.#reading;
  }

  /**
   * Stores, replaces or clears (empty payload [MQTT-3.3.1-6]) the retained message of a topic
   * in this pass's commit. Returns false when the payload is over `max_payload_size`. With
   * `unlessNewer`, the store skips it when the row was published later (storeIfNewer).
   */
  store(message: Message, unlessNewer?: number): boolean {
    if (message.payload.byteLength === 0) {
      // The clear's time goes with it: the store refuses a peer's older write committed later.
      this.#pass.batch.retainDelete(message.topic, unlessNewer, message.timestamp);
      return true;
    }
    if (message.payload.byteLength > this.#maxPayload) {
      this.#onRefused("too_large");
      return false;
    }
    this.#pass.batch.retain(partitionOf(message.topic), message, unlessNewer);
    // The store answers how many new topics it refused for max_retained_messages.
    // One waiter per store part: the count is the part's.
    if (this.#watchedPart !== this.#pass.partId) {
      this.#watchedPart = this.#pass.partId;
      this.#pass.after((_, r) => {
        if (r && "retainRefused" in r && r.retainRefused > 0) this.#onRefused("refused");
      });
    }
    return true;
  }

  /**
   * Stores a peer's write (or clear) unless the row on disc was published later: last writer
   * wins by publish time, as with retained messages in memory. The store decides, inside the
   * commit (`unlessNewer`): a read here and a decision in a later pass let a local write made in
   * between (on any shard) be overwritten by an older peer write.
   */
  storeIfNewer(message: Message): void {
    this.store(message, message.timestamp);
  }

  /**
   * Reads the live retained messages matching `filter` page by page. `deliver` gets each page
   * (in a later pass) with `more`: it calls `more(true)` when it is ready for the next page (once
   * the page is delivered and the subscriber is not backlogged: the flow control that keeps a
   * `#` over a million rows from being dropped by a full queue) or `more(false)` to stop (the
   * subscription went away). `done` runs once, after the last page or the stop.
   */
  lookup(
    filter: string,
    deliver: (page: Message[], more: (go: boolean) => void) => void,
    done?: () => void,
  ): void {
    this.#reading++;
    const finish = () => {
      this.#reading--;
      done?.();
    };
    // One page is read ahead while the previous one is delivered, so a large lookup pays the
    // store's read time and the socket's drain time side by side, not one after the other.
    type Page = { messages: Message[]; next: string | null } | StoreError;
    let ahead: Promise<Page> | null = null;
    const fetch = (cursor: string | null): Promise<Page> =>
      new Promise((resolve) =>
        this.#pass.read({ kind: "retained", filter, cursor, limit: RETAINED_PAGE }, (page) => {
          if (page instanceof StoreError) return resolve(page);
          // The row's topic is the stored message's (one write): not decoded a second time.
          const messages = page.rows.map((row) => decodeMessage(row.body, row.topic));
          resolve({ messages, next: page.next });
        })
      );
    const step = (page: Page) => {
      if (page instanceof StoreError) {
        this.#onReadError(filter, page);
        return finish();
      }
      const next = page.next;
      ahead = next === null ? null : fetch(next);
      let answered = false;
      deliver(page.messages, (go) => {
        if (answered) return;
        answered = true;
        const following = ahead;
        if (go && following !== null) this.#then(following, step);
        else finish();
      });
    };
    this.#then(fetch(null), step);
  }

  /** Runs `fn` with the value of `p` in a later pass of the shard (through the WorkQueue). */
  #then<T>(p: Promise<T>, fn: (v: T) => void): void {
    this.#pass.later(p, fn);
  }
}
