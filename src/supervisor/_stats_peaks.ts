/**
 * StatsPeaks: EMQX's `<name>.max` stats (`connections.max`, `sessions.max`, `topics.max`,
 * `subscriptions.max`, `retained.max`, ...), the high-water mark of each `<name>.count` since
 * the node started. As EMQX's emqx_stats (which records a max when its stats functions run on
 * their timer), the marks are taken from samples of the node-wide counts: at every read of the
 * stats (API, ctl, $SYS, Prometheus) and every SAMPLE_MS meanwhile, so a peak between two
 * samples may be missed. The shards' own per-shard maxima could not be summed into a node's
 * (two shards peak at different times). Private to src/supervisor/; owns the marks and the
 * sampling timer.
 *
 * @module
 */

/** How often the counts are sampled between reads (EMQX samples on a timer too). */
export const SAMPLE_MS = 5_000;

/** See the file header. */
export class StatsPeaks {
  readonly #max = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | null = null;

  /**
   * Raises the marks with `stats` and adds `<name>.max` beside every `<name>.count`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const peaks = new StatsPeaks();
   * peaks.apply({ "connections.count": 3 });
   * const now = peaks.apply({ "connections.count": 1 });
   * assert.deepEqual(now, { "connections.count": 1, "connections.max": 3 });
   * ```
   */
  apply(stats: Record<string, number>): Record<string, number> {
    for (const [k, v] of Object.entries(stats)) {
      if (!k.endsWith(".count")) continue;
      const name = `${k.slice(0, -".count".length)}.max`;
      const max = Math.max(this.#max.get(name) ?? 0, v);
      this.#max.set(name, max);
      stats[name] = max;
    }
    return stats;
  }

  /** Samples with `read` (which calls apply()) every SAMPLE_MS until stop(). */
  start(read: () => Promise<unknown>, onError: (err: unknown) => void): void {
    this.stop();
    this.#timer = setInterval(() => void read().catch(onError), SAMPLE_MS);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
