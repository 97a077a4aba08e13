/**
 * RefusalLog: whether a refused link is due a log line, so that a redialling peer does not flood
 * the log, with a bounded memory of the sources it logged. Private to src/cluster/ (Links and its
 * LinkAcceptor share one).
 *
 * @module
 */

/**
 * A refused link (wrong cookie, other cluster) is logged once per peer address and minute; a
 * failed TLS handshake once per address, reason and minute.
 */
export const REFUSAL_LOG_MS = 60_000;
/** Sources remembered for the once-a-minute refusal log, at most (older ones are forgotten). */
const REFUSAL_LOG_KEYS = 1_024;

/** See the file header. */
export class RefusalLog {
  readonly #logged = new Map<string, number>();

  /**
   * True when `key` (a source) was not logged within REFUSAL_LOG_MS, and notes it. The map
   * keeps at most REFUSAL_LOG_KEYS sources: junk from many addresses cannot grow it.
   */
  due(key: string): boolean {
    const now = Date.now();
    const at = this.#logged.get(key) ?? -Infinity;
    if (now - at < REFUSAL_LOG_MS) return false;
    if (this.#logged.size >= REFUSAL_LOG_KEYS) {
      for (const [k, t] of this.#logged) {
        if (now - t >= REFUSAL_LOG_MS) this.#logged.delete(k);
      }
      // All recent: forget the oldest noted (a Map iterates in insertion order).
      if (this.#logged.size >= REFUSAL_LOG_KEYS) {
        const oldest = this.#logged.keys().next().value;
        if (oldest !== undefined) this.#logged.delete(oldest);
      }
    }
    this.#logged.delete(key);
    this.#logged.set(key, now);
    return true;
  }
}
