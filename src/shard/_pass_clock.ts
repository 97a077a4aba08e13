/**
 * PassClock: the clock a Shard gives its parts. Time comes from another Clock; a timer that
 * fires does not run its callback in that event-loop turn but queues it and rings the shard's
 * doorbell, and the shard's next pass runs it after its peer drains (Shard.#run). Owns only the
 * queue of fired timers.
 *
 * Why: timer callbacks publish (a delayed message when it is due, a will when a keepalive or a
 * will delay ends). A callback run straight from the event loop sees the route table as of the
 * last pass, so a route a peer committed before the timer fired (its SUBACK already out) could
 * still wait unapplied in the ring, and the message would miss that subscriber. Run in a pass,
 * the callback comes after the pass's cut, which holds that route ("peers before clients" for
 * timers; docs/architecture.md).
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";

class PassTimer implements TimerHandle {
  due = 0;
  inner: TimerHandle | undefined;
  /** Cleared, or already run: a fired timer cleared before its pass must not run. */
  done = false;
  constructor(readonly fn: () => void) {}
}

/**
 * See the file header.
 *
 * @example
 * ```ts
 * import { PassClock } from "./_pass_clock.ts";
 * import { ManualClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const inner = new ManualClock(0);
 * let woken = 0;
 * const clock = new PassClock(inner, () => woken++);
 * const ran: string[] = [];
 * clock.setTimer(10, () => ran.push("a"));
 * const b = clock.setTimer(10, () => ran.push("b"));
 * inner.advance(10); // both fire: queued, the shard woken once
 * assert.deepEqual([ran, woken], [[], 1]);
 * clock.clearTimer(b); // cleared before the pass: never runs
 * assert.equal(clock.runDue(), 1);
 * assert.deepEqual(ran, ["a"]);
 * ```
 */
export class PassClock implements Clock {
  readonly #inner: Clock;
  readonly #wake: () => void;
  #fired: PassTimer[] = [];

  /** @param wake rings the shard's doorbell so that a sleeping loop runs a pass. */
  constructor(inner: Clock, wake: () => void) {
    this.#inner = inner;
    this.#wake = wake;
  }

  now(): number {
    return this.#inner.now();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = new PassTimer(fn);
    timer.inner = this.#inner.setTimer(ms, () => {
      if (timer.done) return;
      this.#fired.push(timer);
      if (this.#fired.length === 1) this.#wake();
    });
    timer.due = timer.inner.due;
    return timer;
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (!(handle instanceof PassTimer)) return;
    handle.done = true;
    this.#inner.clearTimer(handle.inner);
  }

  /** Runs the callbacks of the timers fired so far (the shard's pass calls this); how many. */
  runDue(): number {
    if (this.#fired.length === 0) return 0;
    const batch = this.#fired;
    this.#fired = []; // a fresh array: see the note on clear() in docs/architecture.md
    let ran = 0;
    for (const timer of batch) {
      if (timer.done) continue;
      timer.done = true;
      timer.fn();
      ran++;
    }
    return ran;
  }
}
