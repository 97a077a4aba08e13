/**
 * Store: one SQLite connection to the store file and the synchronous API over it. Owns the
 * commit path (a batch, or a group of batches, in one transaction) and the full-disk and
 * corruption policy at run time (what is seen and its logging: _faults.ts). Used in
 * whichever isolate owns the connection: the store worker (recommended, docs/store.md), or a
 * shard. Must not touch rings, sockets or MQTT state; knows messages only as bytes.
 */

import type { DatabaseSync } from "node:sqlite";
import { getLog } from "../log.ts";
import { classifySqliteError, errorText, StoreError } from "./errors.ts";
import { StoreFaults } from "./_faults.ts";
import { fileSize, openDatabase, type OpenOptions, type OpenReport } from "./_open.ts";
import { type LoadedSession, type NextKeys, type OutgoingRow, PartitionReader } from "./_reads.ts";
import type { DelayedRow } from "./_reads.ts";
import { type RetainedPage, RetainedReader } from "./_retained.ts";
import { SecurityReader, SecurityTables } from "./_security.ts";
import type { RetainedPlan } from "./retained_plan.ts";
import { CacheWarmer } from "./_warm.ts";
import { type RetainedCount, Writer } from "./_writes.ts";
import { type ApplyResult, isReleasingOp, type StoreOp, type WireBatch } from "./types.ts";

/** How to open a Store. */
export interface StoreOptions extends OpenOptions {
  /** retainer.backend.max_retained_messages; 0 = unlimited. */
  readonly maxRetained?: number;
}

/** What the broker shows in $SYS and the log. */
export interface StoreHealth {
  /** The last growing write was refused for lack of space (cleared by the next that fits). */
  readonly full: boolean;
  /** Corruption met at run time (the file is checked and moved aside at the next start). */
  readonly corruptSeen: boolean;
  readonly lastError: string | null;
  /** A corrupt file found at this start and moved aside, or null. */
  readonly corruption: OpenReport["corruption"];
}

const log = getLog("store");

/** The synchronous store API over one connection. */
export class Store {
  readonly report: OpenReport;
  readonly #db: DatabaseSync;
  readonly #writer: Writer;
  readonly #reads: PartitionReader;
  readonly #retained: RetainedReader;
  /** Bans, built-in users and ACL rules (records defined by src/auth/, kept here). */
  readonly security: SecurityTables;
  readonly #now: () => number;
  readonly #maxRetained: number;
  #retainedCount: RetainedCount | null = null;
  #warmer: CacheWarmer | null;
  #closed = false;
  /** Full disk and corruption at run time: what was seen, and its logging. */
  readonly #faults: StoreFaults;

  private constructor(db: DatabaseSync, report: OpenReport, opts: StoreOptions) {
    this.#db = db;
    this.report = report;
    this.#now = opts.now ?? Date.now;
    this.#maxRetained = opts.maxRetained ?? 0;
    this.#faults = new StoreFaults(report.path, this.#now);
    this.#writer = new Writer(db);
    this.#reads = new PartitionReader(db);
    this.#retained = new RetainedReader(db, opts.indexSpecs);
    this.#warmer = opts.readOnly ? null : new CacheWarmer(db, opts.cacheKiB ?? 8192);
    this.security = new SecurityTables(
      new SecurityReader(db),
      (op) => void this.apply({ msgs: [], ops: [op] }),
      (fn) => this.#guard("read", fn),
    );
  }

  /**
   * Opens (creating, checking, recovering, migrating) `<dir>/culex.db`. A corrupt file is moved
   * aside and an empty store returned (see `report.corruption`). Throws StoreError for a dir
   * that is not writable, a newer or foreign file, or a failed migration.
   */
  static open(opts: StoreOptions): Store {
    const { db, report } = openDatabase(opts);
    const store = new Store(db, report, opts);
    if (report.corruption) {
      log.error(
        "Store {path} was corrupt ({reason}); moved aside to {movedTo}, starting empty",
        { ...report.corruption, movedTo: report.corruption.movedTo.join(", ") },
      );
    }
    if (report.migratedFrom !== report.version && !report.created) {
      log.info("Store {path} migrated from schema version {from} to {to}", {
        path: report.path,
        from: report.migratedFrom,
        to: report.version,
      });
    }
    return store;
  }

  get path(): string {
    return this.report.path;
  }

  /** Applies one batch atomically. Throws StoreError (`full`: see applyGroup). */
  apply(batch: WireBatch): ApplyResult {
    const r = this.applyGroup([batch])[0]!;
    if (r instanceof StoreError) throw r;
    return r;
  }

  /**
   * Applies several batches in one transaction (group commit: one fsync for all under
   * sync=full), each batch's ops in order. When the group does not fit (`full`):
   * - `onFull: "each"` (default) retries each batch alone; a batch that still does not fit
   *   gets StoreError("full") in its slot, with its deletes and in-place updates applied;
   * - `onFull: "release_only"` applies the deletes and updates of every batch in one
   *   transaction and refuses every batch that had growing ops: batches that must stay
   *   atomic together (commit tokens, worker_host.ts) are then refused together.
   * Acknowledgements are thus never lost to a full store while SQLite can still write. Another
   * failure is narrowed down to its batch by retrying each alone; corruption fails every slot.
   */
  applyGroup(
    batches: readonly WireBatch[],
    opts: { onFull?: "each" | "release_only" } = {},
  ): (ApplyResult | StoreError)[] {
    if (this.#closed) return batches.map(() => new StoreError("closed", "The store is closed"));
    try {
      const out = this.#transaction(() => batches.map((b) => this.#run(b, b.ops)));
      this.#faults.wrote();
      return out;
    } catch (e) {
      const code = classifySqliteError(e);
      if (code === "corrupt" || batches.length === 1 && code !== "full") {
        const err = this.#faults.fault(e, "write");
        return batches.map(() => err);
      }
      if (code === "full" && opts.onFull === "release_only") return this.#releaseOnly(batches);
    }
    // Full, or one batch is bad (a caller bug): each alone, so the others still commit.
    return batches.map((b) => this.#applyAlone(b));
  }

  #releaseOnly(batches: readonly WireBatch[]): (ApplyResult | StoreError)[] {
    let kept = "their deletes and updates were applied";
    let released = true;
    try {
      this.#transaction(() => {
        for (const b of batches) this.#run(b, b.ops.filter(isReleasingOp));
      });
    } catch (e) {
      kept = `their deletes and updates failed too: ${errorText(e)}`;
      released = false;
    }
    const err = this.#faults.refuseFull(kept);
    return batches.map((b) => released && b.ops.every(isReleasingOp) ? { retainRefused: 0 } : err);
  }

  #applyAlone(batch: WireBatch): ApplyResult | StoreError {
    try {
      const r = this.#transaction(() => this.#run(batch, batch.ops));
      this.#faults.wrote();
      return r;
    } catch (e) {
      if (classifySqliteError(e) !== "full") return this.#faults.fault(e, "write");
    }
    const releasing = batch.ops.filter(isReleasingOp);
    let kept = "its deletes and updates were applied";
    if (releasing.length > 0) {
      try {
        this.#transaction(() => this.#run(batch, releasing));
      } catch (e) {
        kept = `its deletes and updates failed too: ${errorText(e)}`;
      }
    }
    return this.#faults.refuseFull(kept);
  }

  #run(batch: WireBatch, ops: readonly StoreOp[]): ApplyResult {
    const dropped: (Uint8Array | null)[] = [];
    const retainRefused = this.#writer.run(batch, ops, this.#retainedCounter(), dropped);
    return dropped.length > 0 ? { retainRefused, dropped } : { retainRefused };
  }

  #transaction<T>(fn: () => T): T {
    const counter = this.#retainedCounter();
    const before = counter.count;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#writer.begin();
    try {
      const out = fn();
      this.#writer.end();
      this.#db.exec("COMMIT");
      this.#writer.committed();
      return out;
    } catch (e) {
      counter.count = before;
      // SQLite may already have rolled back (SQLITE_FULL does on COMMIT).
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  #retainedCounter(): RetainedCount {
    if (!this.#retainedCount) {
      const n = this.#guard(
        "read",
        () => this.#db.prepare("SELECT count(*) AS n FROM retained").get(),
      );
      this.#retainedCount = { count: Number(n?.n ?? 0), max: this.#maxRetained };
    }
    return this.#retainedCount;
  }

  // ---- partitioned reads (LoadedSession and friends: _reads.ts) ----

  /** A page of the persistent sessions of `partitions` after `afterSid` (0 to start). */
  sessions(partitions: Iterable<number>, afterSid: number, limit: number): LoadedSession[] {
    return this.#guard("read", () => this.#reads.sessions(partitions, afterSid, limit));
  }

  /** A page of one session's outgoing rows after `afterSeq` (0 to start): inflight, then queue. */
  outgoing(sid: number, afterSeq: number, limit: number): OutgoingRow[] {
    return this.#guard("read", () => this.#reads.outgoing(sid, afterSeq, limit));
  }

  awaitingRel(sid: number): { packetId: number; receivedAt: number }[] {
    return this.#guard("read", () => this.#reads.awaitingRel(sid));
  }

  delayed(partitions: Iterable<number>): DelayedRow[] {
    return this.#guard("read", () => this.#reads.delayed(partitions));
  }

  nextKeys(partitions: Iterable<number>): NextKeys {
    return this.#guard("read", () => this.#reads.nextKeys(partitions));
  }

  sidOf(clientId: string): number | null {
    return this.#guard("read", () => this.#reads.sidOf(clientId));
  }

  // ---- retained ----

  /** A page of the retained messages matching `filter` (cursor null to start). */
  retainedQuery(filter: string, cursor: string | null, limit: number): RetainedPage {
    return this.#guard("read", () => this.#retained.query(filter, cursor, limit, this.#now()));
  }

  /** How `filter` is looked up (for tests, benchmarks and `EXPLAIN`-style diagnostics). */
  retainedPlan(filter: string): RetainedPlan {
    return this.#retained.plan(filter);
  }

  retainedCount(): number {
    return this.#retainedCounter().count;
  }

  /** Deletes retained messages whose expiry passed; returns how many. */
  expireRetained(): number {
    return this.#guard("write", () =>
      this.#transaction(() => {
        const r = this.#db.prepare("DELETE FROM retained WHERE expires_at BETWEEN 1 AND ?")
          .run(this.#now());
        this.#retainedCounter().count -= Number(r.changes);
        return Number(r.changes);
      }));
  }

  /**
   * One small step (about 1-2 ms) of filling the page cache after open (_warm.ts says why);
   * true while there is more to do. The store worker runs it between its turns, after
   * answering "opened", so the start never waits for it. A failed read stops the warming.
   */
  warmStep(): boolean {
    if (this.#closed || !this.#warmer) return false;
    try {
      if (this.#warmer.step()) return true;
    } catch { /* a real read will report it */ }
    this.#warmer = null;
    return false;
  }

  // ---- state ----

  health(): StoreHealth {
    return { ...this.#faults.seen(), corruption: this.report.corruption };
  }

  /** Sizes for metrics: file and WAL bytes, pages in use and free, the page cap. */
  stats(): {
    fileBytes: number;
    walBytes: number;
    pages: number;
    freePages: number;
    maxPages: number;
  } {
    const p = (name: string) => Number(this.#db.prepare(`PRAGMA ${name}`).get()?.[name] ?? 0);
    return {
      fileBytes: Math.max(0, fileSize(this.path)),
      walBytes: Math.max(0, fileSize(this.path + "-wal")),
      pages: p("page_count"),
      freePages: p("freelist_count"),
      maxPages: p("max_page_count"),
    };
  }

  /** Moves the WAL into the file (PASSIVE: never waits for readers). */
  checkpoint(): void {
    this.#guard("write", () => this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)"));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Runs a read or write, turning SQLite errors into StoreError (and recording corruption). */
  #guard<T>(kind: "read" | "write", fn: () => T): T {
    if (this.#closed) throw new StoreError("closed", "The store is closed");
    try {
      return fn();
    } catch (e) {
      throw this.#faults.fault(e, kind);
    }
  }
}
