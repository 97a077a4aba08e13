/**
 * AuthMetrics: the counters of authentication and authorization with EMQX's names
 * (`authentication.success`, `authorization.cache_hit`, ...) plus per-authenticator and
 * per-source counters (`authn.<id>.<total|success|failed|nomatch|error>`,
 * `authz.<type>.<total|allow|deny|nomatch|error>`). One instance per shard; the host reads
 * snapshot() and sums across shards. Owns numbers only: no timers, no I/O.
 */

/** EMQX's node-wide names (apps/emqx/include/emqx_metrics.hrl). */
export const AUTH_METRIC_NAMES = [
  "authentication.success",
  "authentication.success.anonymous",
  "authentication.failure",
  "authorization.allow",
  "authorization.deny",
  "authorization.cache_hit",
  "authorization.cache_miss",
  "authorization.superuser",
  "authorization.nomatch",
  "authorization.matched.allow",
  "authorization.matched.deny",
] as const;

/** Counters by name. */
export class AuthMetrics {
  readonly #counters = new Map<string, number>();

  constructor() {
    for (const name of AUTH_METRIC_NAMES) this.#counters.set(name, 0);
  }

  /** Adds `n` (default 1) to `name`. */
  inc(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  /** The current value of `name` (0 when never counted). */
  get(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  /** Every counter, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counters].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
