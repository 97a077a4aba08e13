/**
 * What every backend-backed authenticator and source shares: a deadline on each call, one log
 * line per burst of failures (not one per client), the per-shard pool size, and a checkout pool
 * for drivers whose connections cannot be shared between requests (LDAP binds). Private to
 * src/auth/. Owns timers only while a call is pending; never throws to the caller.
 */

import { getLogger } from "@logtape/logtape";

export const log = getLogger(["culex", "auth"]);

/** Result of a call with a deadline. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/**
 * Runs `call` with a deadline of `timeoutMs`. Never rejects: a throw, a rejection or the
 * deadline become `{ ok: false, error }`.
 */
export async function withTimeout<T>(
  call: () => Promise<T>,
  timeoutMs: number,
): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    const attempt = (async (): Promise<Outcome<T>> => {
      try {
        return { ok: true, value: await call() };
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    })();
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a burst of failures of one backend is summarised in one line. */
const BURST_MS = 10_000;

/**
 * Logs the first failure of a burst at once and counts the rest; the count is logged with the
 * next failure after the burst window, so a dead backend writes a line every 10 s at most.
 */
export class BurstLog {
  readonly #what: string;
  #windowStart = -Infinity;
  #suppressed = 0;

  constructor(what: string) {
    this.#what = what;
  }

  failure(error: string, now = Date.now()): void {
    if (now - this.#windowStart < BURST_MS) {
      this.#suppressed++;
      return;
    }
    const more = this.#suppressed > 0
      ? ` (${this.#suppressed} more failures since the last line)`
      : "";
    log.warning(`${this.#what}: ${error}; answering ignore${more}`);
    this.#windowStart = now;
    this.#suppressed = 0;
  }
}

/** Connections per shard: ceil(pool_size / shards), at least 1. */
export function poolPerShard(poolSize: number, shards = 1): number {
  return Math.max(1, Math.ceil(poolSize / Math.max(1, shards)));
}

/** Largest number of requests waiting for a pooled connection before new ones fail at once. */
const MAX_WAITERS = 10_000;

/**
 * A checkout pool of at most `size` connections made by `create`. acquire() waits (bounded)
 * for a free one; release(conn, broken) returns it or drops it. Connections are made lazily,
 * so a backend that is down costs nothing until asked.
 */
export class CheckoutPool<T> {
  readonly #size: number;
  readonly #create: () => Promise<T>;
  readonly #destroy: (c: T) => Promise<void>;
  readonly #idle: T[] = [];
  readonly #waiters: ((c: T | null) => void)[] = [];
  #open = 0;
  #closed = false;

  constructor(size: number, create: () => Promise<T>, destroy: (c: T) => Promise<void>) {
    this.#size = size;
    this.#create = create;
    this.#destroy = destroy;
  }

  async acquire(): Promise<T> {
    if (this.#closed) throw new Error("pool closed");
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#open < this.#size) {
      this.#open++;
      try {
        return await this.#create();
      } catch (e) {
        this.#open--;
        throw e;
      }
    }
    if (this.#waiters.length >= MAX_WAITERS) throw new Error("too many requests waiting");
    const conn = await new Promise<T | null>((resolve) => this.#waiters.push(resolve));
    if (conn === null) throw new Error("pool closed");
    return conn;
  }

  release(conn: T, broken: boolean): void {
    if (broken || this.#closed) {
      this.#open--;
      this.#destroy(conn).catch(() => {});
      const waiter = this.#waiters.shift();
      // A waiter gets a fresh connection attempt instead of the broken one.
      if (waiter) this.acquire().then(waiter, () => waiter(null));
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(conn);
    else this.#idle.push(conn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(null);
    const idle = this.#idle.splice(0);
    this.#open -= idle.length;
    await Promise.all(idle.map((c) => this.#destroy(c).catch(() => {})));
  }
}
