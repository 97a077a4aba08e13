/**
 * FlappingDetector: EMQX's flapping_detect. A client id that disconnects more than `max_count`
 * times within `window_time` is banned as `{clientid, Id}` for `ban_time`, by
 * "flapping detector", reason "flapping is detected". Owned by src/auth/. Pure data with a
 * bounded table; the caller passes the clock and broadcasts the ban it returns.
 */

import type { BanEntry, Banned } from "./banned.ts";
import type { FlappingDetectConfig } from "../config/types_auth.ts";

/** Client ids tracked per isolate; past it the least recently started window is dropped. */
export const MAX_TRACKED_CLIENTS = 100_000;

interface Window {
  start: number;
  count: number;
}

export class FlappingDetector {
  readonly #cfg: FlappingDetectConfig;
  readonly #banned: Banned | undefined;
  readonly #windows = new Map<string, Window>();

  /** With `banned`, a detected client is also added there. */
  constructor(cfg: FlappingDetectConfig, banned?: Banned) {
    this.#cfg = cfg;
    this.#banned = banned;
  }

  /**
   * Counts one disconnect of `clientId` at `now` (ms). Returns the new ban when this one
   * crossed the limit, else null. Does nothing when flapping_detect is disabled.
   *
   * @example
   * ```ts
   * import { FlappingDetector } from "./flapping.ts";
   * const d = new FlappingDetector({ enable: true, windowTime: 60_000, maxCount: 1, banTime: 300_000 });
   * import assert from "node:assert/strict";
   * assert.equal(d.recordDisconnect("c1", 0), null);
   * assert.equal(d.recordDisconnect("c1", 10)?.until, 300010);
   * ```
   */
  recordDisconnect(clientId: string, now: number): BanEntry | null {
    if (!this.#cfg.enable) return null;
    let w = this.#windows.get(clientId);
    if (!w || now - w.start > this.#cfg.windowTime) {
      this.#windows.delete(clientId);
      if (this.#windows.size >= MAX_TRACKED_CLIENTS) this.#evict(now);
      w = { start: now, count: 0 };
      this.#windows.set(clientId, w);
    }
    w.count++;
    if (w.count <= this.#cfg.maxCount) return null;
    this.#windows.delete(clientId);
    const entry: BanEntry = {
      as: "clientid",
      who: clientId,
      by: "flapping detector",
      reason: "flapping is detected",
      at: now,
      until: now + this.#cfg.banTime,
    };
    const r = this.#banned?.add(entry);
    return r && "exists" in r ? r.exists : entry;
  }

  /** Windows tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  #evict(now: number): void {
    for (const [id, w] of this.#windows) {
      if (now - w.start > this.#cfg.windowTime) this.#windows.delete(id);
    }
    if (this.#windows.size >= MAX_TRACKED_CLIENTS) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
  }
}
