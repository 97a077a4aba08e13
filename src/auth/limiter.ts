/**
 * Rate limits as token buckets: `max_conn_rate` per listener, `messages_rate` and `bytes_rate`
 * per client (EMQX 5.8). Owned by src/auth/. A bucket never refuses work already read: it
 * takes the tokens (the balance may go below zero) and answers how many milliseconds the caller
 * must pause reading that one client (or accepting) for the balance to recover. Nothing is
 * dropped. Pure: the caller passes the clock.
 */

import type { Rate } from "../config/types_auth.ts";

/**
 * Parses EMQX's rate syntax: "1000/s", "1000/10s", "100/m", "10/h", "10MB/10s", "infinity", or
 * a bare number (per second). Byte units KB, MB, GB are 1024-based. Null when invalid;
 * "infinity" gives `{ tokens: Infinity, ... }`.
 *
 * @example
 * ```ts
 * import { parseRate } from "./limiter.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseRate("10MB/10s"), { tokens: 10485760, periodMs: 10000 });
 * ```
 */
export function parseRate(v: unknown): Rate | null {
  if (v === "infinity") return { tokens: Infinity, periodMs: 1000 };
  if (typeof v === "number") {
    return Number.isFinite(v) && v > 0 ? { tokens: v, periodMs: 1000 } : null;
  }
  if (typeof v !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|B)?\s*\/\s*(\d+)?\s*(ms|s|m|h|d)\s*$/i.exec(v);
  if (!m) return null;
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? "b").toLowerCase()] ?? 1;
  const per =
    { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[4] as string).toLowerCase()] ??
      1000;
  const tokens = Number(m[1]) * unit;
  const periodMs = Number(m[3] ?? 1) * per;
  return tokens > 0 && periodMs > 0 ? { tokens, periodMs } : null;
}

/** A token bucket holding at most `rate.tokens`, refilled continuously over `rate.periodMs`. */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  #tokens: number;
  #last: number;

  constructor(rate: Rate, now: number) {
    this.#capacity = rate.tokens;
    this.#perMs = rate.tokens / rate.periodMs;
    this.#tokens = rate.tokens;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
    }
  }

  /** Takes `n` tokens; returns 0, or the ms to wait before reading again. */
  consume(n: number, now: number): number {
    this.#refill(now);
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#perMs);
  }

  /** Takes one token only when one is there (admission); returns 0, or ms until one is. */
  tryTake(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  /** Tokens available now (may be negative after a large consume). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }
}

/** A bucket, or null for unlimited. */
export function bucketOf(rate: Rate | null | undefined, now: number): TokenBucket | null {
  return rate && Number.isFinite(rate.tokens) ? new TokenBucket(rate, now) : null;
}

/** The per-client limits of one connection: PUBLISH packets in, bytes in. */
export class ClientLimiter {
  readonly #messages: TokenBucket | null;
  readonly #bytes: TokenBucket | null;

  constructor(limits: { messagesRate?: Rate | null; bytesRate?: Rate | null }, now: number) {
    this.#messages = bucketOf(limits.messagesRate, now);
    this.#bytes = bucketOf(limits.bytesRate, now);
  }

  /** True when neither limit is set (the caller can skip the calls). */
  get unlimited(): boolean {
    return this.#messages === null && this.#bytes === null;
  }

  /** Bytes read from the socket; returns ms to pause reading this client (0 = go on). */
  onBytes(n: number, now: number): number {
    return this.#bytes ? this.#bytes.consume(n, now) : 0;
  }

  /** One PUBLISH received; returns ms to pause reading this client (0 = go on). */
  onPublish(now: number): number {
    return this.#messages ? this.#messages.consume(1, now) : 0;
  }
}
