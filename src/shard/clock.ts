/**
 * Clock: the one source of time and timers of a shard. The Shard makes one and passes it down to
 * every part that reads the time or arms a timer (Broker, SessionRegistry, Channel, DelayedPublish,
 * SysTopics), so expiry, will delay, keepalive and delayed publish can be driven by a ManualClock
 * in tests instead of sleeping real seconds. Owns no state beyond its timers.
 *
 * @module
 */

/** A timer armed with {@linkcode Clock.setTimer}. */
export interface TimerHandle {
  readonly due: number;
}

/** Time and timers, in epoch milliseconds. */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms` (at least 0); returns a handle for clearTimer. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
}

/** Longest single wait of the runtime's setTimeout (about 24.8 days); longer ones re-arm. */
const MAX_WAIT = 2 ** 31 - 1;

class SystemTimer implements TimerHandle {
  id: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly due: number) {}
}

/**
 * The real clock: Date.now() and setTimeout, with waits past setTimeout's limit re-armed.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const before = Date.now();
 * assert.ok(systemClock.now() >= before);
 * systemClock.clearTimer(systemClock.setTimer(10, () => {}));
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = new SystemTimer(Date.now() + Math.max(0, ms));
    const arm = (wait: number) => {
      timer.id = setTimeout(() => {
        const left = timer.due - Date.now();
        if (left > 0) arm(left);
        else fn();
      }, Math.min(Math.max(0, wait), MAX_WAIT));
    };
    arm(ms);
    return timer;
  },
  clearTimer(handle: TimerHandle | undefined): void {
    if (handle instanceof SystemTimer) clearTimeout(handle.id);
  },
};

interface ManualTimer extends TimerHandle {
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to, for tests: `advance(ms)` runs every timer that falls due,
 * in due order (ties in the order they were armed), each seeing now() at its own due time.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const clock = new ManualClock(1000);
 * const fired: number[] = [];
 * clock.setTimer(50, () => fired.push(clock.now()));
 * clock.setTimer(10, () => fired.push(clock.now()));
 * clock.advance(100);
 * assert.ok(fired.join() === "1010,1050" && clock.now() === 1100);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = {
      due: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle !== undefined) (handle as ManualTimer).cancelled = true;
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing what falls due (timers armed meanwhile included). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (
          t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (!next) break;
      next.cancelled = true;
      this.#now = Math.max(this.#now, next.due);
      next.fn();
    }
    this.#now = end;
  }
}
