/**
 * StorePass: a shard's writes to the durable store, grouped per pass of its loop (docs/store.md,
 * "Each pass"). Every part of the shard adds its ops to `batch`; the first use in a pass
 * schedules one commit in a microtask, which runs when the pass's synchronous work is done (the
 * same moment the ring writers flush), so a pass is one commit whatever wrote to it. Waiters of
 * the pass's commit (an acknowledgement that must follow it) get its result through the
 * WorkQueue, in a later pass. Reads asked during a pass are sent after that pass's commit on the
 * same port, so they see it (the worker answers a port's requests in order). Owns the batch being
 * built and the waiters of the commit in flight; the store itself is the worker's.
 *
 * @module
 */

import {
  isRefusal,
  type PartResult,
  type ReadQuery,
  type ReadResults,
  StoreBatch,
  StoreClient,
  StoreError,
} from "../store/mod.ts";
import type { WorkQueue } from "./work_queue.ts";

/** The shard's end of the store. */
export class StorePass {
  readonly client: StoreClient;
  readonly #work: WorkQueue;
  #batch = new StoreBatch();
  #scheduled = false;
  /** Resolvers of committed() promises of the pass being built. */
  #waiters: ((r: PartResult) => void)[] = [];
  #reads: (() => void)[] = [];
  #passes = 0;
  #onRefused: (r: { code: string; message: string }) => void;

  /**
   * @param onRefused called once per refused commit (a full disk, an I/O error): the shard logs
   * it (rate limited) and its metrics count it.
   */
  constructor(
    client: StoreClient,
    work: WorkQueue,
    onRefused: (r: { code: string; message: string }) => void,
  ) {
    this.client = client;
    this.#work = work;
    this.#onRefused = onRefused;
  }

  /** The batch of this pass; using it schedules the pass's commit. */
  get batch(): StoreBatch {
    this.#schedule();
    return this.#batch;
  }

  /** Commits flushed so far: tells one pass's writes from the next one's. */
  get passes(): number {
    return this.#passes;
  }

  /** Ops added in this pass so far (does not schedule anything). */
  get size(): number {
    return this.#batch.size;
  }

  /**
   * The result of this pass's commit, for an answer that must follow it (PUBACK of a retained
   * or delayed publish). Resolves outside the pass: hand it to Channel.suspendUntil or WorkQueue.
   */
  committed(): Promise<PartResult> {
    this.#schedule();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Asks one read after this pass's commit; `then` runs in a later pass of the loop. (`then`
   * also runs when the answer is a StoreError.)
   */
  read<K extends ReadQuery["kind"]>(
    q: Extract<ReadQuery, { kind: K }>,
    then: (r: ReadResults[K] | StoreError) => void,
  ): void {
    this.#schedule();
    this.#reads.push(() => {
      const answer = new Promise<ReadResults[K] | StoreError>((resolve) =>
        this.client.read(q, resolve)
      );
      this.#work.await(answer, (o) => then(o.ok ? o.value : new StoreError("io", String(o.error))));
    });
  }

  /** Runs `then` with the value of `p` in a later pass of the loop (the WorkQueue). */
  later<T>(p: Promise<T>, then: (v: T) => void): void {
    this.#work.await(p, (o) => {
      if (o.ok) then(o.value);
    });
  }

  /** Commits what the pass added (if anything), then sends the pass's reads. */
  flush(): void {
    this.#scheduled = false;
    this.#passes++;
    const waiters = this.#waiters;
    const reads = this.#reads;
    this.#waiters = [];
    this.#reads = [];
    if (this.#batch.size > 0) {
      const batch = this.#batch.take();
      this.client.commit(batch, (results) => {
        const r = results[0] ?? { code: "io" as const, message: "no result" };
        if (isRefusal(r)) this.#onRefused(r);
        for (const w of waiters) w(r);
      });
    } else {
      // Nothing to commit: the waiters' answers follow nothing (a refused delayed publish).
      for (const w of waiters) w({ retainRefused: 0 });
    }
    for (const send of reads) send();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }
}
