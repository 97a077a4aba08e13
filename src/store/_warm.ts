/**
 * CacheWarmer: fills a new connection's SQLite page cache in small steps after open, so that
 * the first lookups after a start do not pay for it. Private to src/store/ (store.ts).
 *
 * Why: on this kind of machine (a VM) the first touch of fresh memory is a page fault of about
 * 35 µs, seven times the cost of reading a 4 KiB page that the OS already caches (5 µs). A cold
 * connection mallocs a new buffer for every page it reads until its cache is full, so the first
 * `sensor/+/temp` over 1,000,000 retained rows (1,000 scattered rows, about 1,000 leaf pages)
 * took 45-90 ms, and 5-9 ms once the cache had been filled by anything (bench/README.md,
 * "retained"). Reading rows until the cache is full allocates every buffer up front; later
 * reads recycle them. The rows read are the retained table's, in rowid order (its interior
 * pages are what every lookup descends through), then its level indexes' first pages.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { returnArrays } from "./errors.ts";

/** Rows read per step: about 40 leaf pages of retained rows, 1-2 ms when cold. */
const STEP_ROWS = 1000;
/** Bytes a row costs in its leaf page besides its topic and body (header, id, levels). */
const ROW_OVERHEAD = 40;

/** Reads the retained table step by step until about `cacheKiB` of pages were read. */
export class CacheWarmer {
  readonly #db: DatabaseSync;
  #chunk: StatementSync | null = null;
  #indexes: string[] = [];
  #leftBytes: number;
  #afterId = 0;

  constructor(db: DatabaseSync, cacheKiB: number) {
    this.#db = db;
    this.#leftBytes = cacheKiB * 1024;
  }

  /** Reads the next step; false once the budget is spent or every row was read. */
  step(): boolean {
    if (this.#leftBytes <= 0) return false;
    // Prepared at the first step, not at open: nothing of this runs before "opened".
    this.#chunk ??= this.#prepare();
    const [n, last, bytes] = this.#chunk.get(this.#afterId) as unknown as [
      number,
      number | null,
      number | null,
    ];
    if (n === 0 || last === null) return this.#warmIndexes();
    this.#afterId = last;
    this.#leftBytes -= (bytes ?? 0) + n * ROW_OVERHEAD;
    return this.#leftBytes > 0 || this.#warmIndexes();
  }

  #prepare(): StatementSync {
    this.#indexes = this.#db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'retained' " +
        "AND name GLOB 'retained_l*'",
    ).all().map((r) => String(r.name));
    // One aggregate per step: the rows never cross into JS.
    return returnArrays(this.#db.prepare(
      "SELECT count(*), max(id), sum(length(topic) + length(body)) FROM " +
        `(SELECT id, topic, body FROM retained WHERE id > ? ORDER BY id LIMIT ${STEP_ROWS})`,
    ));
  }

  /** The first leaf and the interior pages of each level index (one descent each). */
  #warmIndexes(): boolean {
    for (const name of this.#indexes.splice(0)) {
      this.#db.prepare(`SELECT 1 FROM retained INDEXED BY ${name} LIMIT 1`).get();
    }
    this.#leftBytes = 0;
    return false;
  }
}
