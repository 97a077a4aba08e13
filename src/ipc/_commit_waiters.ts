/**
 * What RingWriter.whenCommitted() waits on: records ever parked and ever moved from the overflow
 * into the ring and published, and the callers waiting for a mark. Private to src/ipc/ (ring.ts).
 *
 * @module
 */

/** See the file header. */
export class CommitWaiters {
  /** Records ever parked, and ever moved from the overflow into the ring and published. */
  #parkedTotal = 0;
  #movedTotal = 0;
  /** Callers waiting: each resolves once #movedTotal reaches its mark. */
  #commitWaiters: { mark: number; resolve: () => void }[] = [];

  /** One more record parked. */
  parked(): void {
    this.#parkedTotal++;
  }

  /** One more parked record moved into the ring and published. */
  moved(): void {
    this.#movedTotal++;
  }

  /** True while some caller waits. */
  get waiting(): boolean {
    return this.#commitWaiters.length > 0;
  }

  /** Resolves once the records parked so far have moved (later parks do not delay it). */
  wait(): Promise<void> {
    const mark = this.#parkedTotal;
    return new Promise((resolve) => this.#commitWaiters.push({ mark, resolve }));
  }

  /** Resolves every caller whose records have all moved. */
  resolveMoved(): void {
    const left: { mark: number; resolve: () => void }[] = [];
    for (const w of this.#commitWaiters) {
      if (w.mark <= this.#movedTotal) w.resolve();
      else left.push(w);
    }
    this.#commitWaiters = left;
  }

  /** Resolves every caller (the writer closed). */
  resolveAll(): void {
    for (const w of this.#commitWaiters) w.resolve();
    this.#commitWaiters = [];
  }
}
