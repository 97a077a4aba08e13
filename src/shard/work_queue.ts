/**
 * WorkQueue: brings the results of asynchronous work (an authentication or ACL backend call, a
 * store commit, a route waiting for ring space) back into the shard's loop as events. A result
 * is never handled in the microtask that settles its promise: it is queued, the shard's doorbell
 * is rung, and the next pass runs it, between the peer records and the client records, so the
 * ordering rules of the loop hold for it as for any record. Owns only the queue of settled
 * results; what a result does is its requester's business.
 *
 * @module
 */

/** How a piece of asynchronous work ended. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly error: unknown;
};

/**
 * Settled work waiting for the shard's next pass.
 *
 * @example
 * ```ts
 * import { WorkQueue } from "./work_queue.ts";
 * import assert from "node:assert/strict";
 * let woken = 0;
 * const q = new WorkQueue(() => woken++);
 * const seen: number[] = [];
 * q.await(Promise.resolve(7), (o) => o.ok && seen.push(o.value));
 * await Promise.resolve(); // the promise settles ...
 * assert.ok(seen.length === 0 && woken === 1); // ... but nothing runs before the pass
 * q.runSettled();
 * assert.ok(seen[0] === 7 && q.inFlight === 0);
 * ```
 */
export class WorkQueue {
  readonly #wake: () => void;
  #settled: (() => void)[] = [];
  #inFlight = 0;

  /** @param wake rings the shard's doorbell so a sleeping loop runs the next pass. */
  constructor(wake: () => void) {
    this.#wake = wake;
  }

  /** Work started and not yet handled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Runs `then` with the outcome of `work` in a later pass of the shard's loop. */
  await<T>(work: Promise<T>, then: (outcome: Outcome<T>) => void): void {
    this.#inFlight++;
    const settle = (outcome: Outcome<T>) => {
      this.#settled.push(() => {
        this.#inFlight--;
        then(outcome);
      });
      if (this.#settled.length === 1) this.#wake();
    };
    work.then((value) => settle({ ok: true, value }), (error) => settle({ ok: false, error }));
  }

  /** Handles every result settled so far (the shard's pass calls this); returns how many. */
  runSettled(): number {
    if (this.#settled.length === 0) return 0;
    const batch = this.#settled;
    this.#settled = []; // a fresh array: see the note on clear() in docs/architecture.md
    for (const run of batch) run();
    return batch.length;
  }
}
