/**
 * RecentClears: the retained topics cleared by a local clear (a client's empty retained PUBLISH,
 * an API or ctl delete) in the last CLEAR_KEEP_MS, with the clear's publish time, kept by the
 * store's Writer so that a peer's older write committed after the clear is refused inside the
 * commit, as a newer row refuses it (docs/cluster.md, "Retained messages"). Without it the clear
 * deleted the row and only the supervisor's tombstone, made when the shard reported the clear,
 * refused the peer's copy: a peer write already on its way to a shard in that instant came back.
 * The supervisor's tombstones (cluster.retain_tombstone_ttl) take over long before an entry here
 * goes: this only closes the window between the commit and the supervisor's tombstone. Changes
 * of one transaction are staged and kept only once it commits. Private to src/store/.
 */

/** How long a clear is remembered here (the supervisor's tombstone exists long before). */
export const CLEAR_KEEP_MS = 60_000;
/** Clears remembered at most; the oldest is forgotten first. */
export const CLEAR_KEEP_MAX = 100_000;

/** See the file header. */
export class RecentClears {
  /** Topic → [clear's publish time, remembered since (ms)], oldest first. */
  readonly #kept = new Map<string, [at: number, since: number]>();
  /** This transaction's changes: a clear's time, or null (a local write replaced the clear). */
  readonly #staged = new Map<string, number | null>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Clears kept now. */
  get size(): number {
    return this.#kept.size;
  }

  /** A transaction starts: what a failed one staged is void. */
  begin(): void {
    this.#staged.clear();
  }

  /** A local clear of `topic` published at `at` was applied in this transaction. */
  cleared(topic: string, at: number): void {
    const before = this.clearedAt(topic);
    this.#staged.set(topic, before === undefined ? at : Math.max(before, at));
  }

  /** A local write of `topic` was applied: its row now decides against older peer writes. */
  written(topic: string): void {
    if (this.clearedAt(topic) !== undefined) this.#staged.set(topic, null);
  }

  /** The publish time of the last clear of `topic` remembered (this transaction's first). */
  clearedAt(topic: string): number | undefined {
    const staged = this.#staged.get(topic);
    if (staged !== undefined) return staged ?? undefined;
    return this.#kept.get(topic)?.[0];
  }

  /** The transaction committed: its changes are kept; old and excess clears are forgotten. */
  committed(): void {
    const now = this.#now();
    for (const [topic, at] of this.#staged) {
      this.#kept.delete(topic); // re-inserted last: the Map stays oldest first
      if (at !== null) this.#kept.set(topic, [at, now]);
    }
    this.#staged.clear();
    for (const [topic, [, since]] of this.#kept) {
      if (this.#kept.size <= CLEAR_KEEP_MAX && now - since < CLEAR_KEEP_MS) break;
      this.#kept.delete(topic);
    }
  }
}
