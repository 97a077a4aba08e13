/**
 * Opening the store file: creates node.data_dir, checks the file (header, size, schema, and
 * SQLite's quick_check when small or suspected), moves a corrupt file aside with its -wal/-shm
 * (`<name>.corrupt-<timestamp>`) and starts empty, refuses a newer or foreign file, migrates
 * forward, sets the pragmas, and keeps the retained indexes equal to index_specs. Private to
 * src/store/ (store.ts calls it). Never deletes a file.
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { classifySqliteError, errorText, StoreError } from "./errors.ts";
import {
  APPLICATION_ID,
  type Migration,
  MIGRATIONS,
  retainedIndexName,
  retainedIndexSql,
} from "./schema.ts";

/** What open needs. */
export interface OpenOptions {
  readonly dir: string;
  /** File name inside dir. Default culex.db. */
  readonly file?: string;
  readonly sync: "normal" | "full";
  /** Bytes; 0 = no cap (the disk's size). */
  readonly maxStoreSize: number;
  readonly indexSpecs: readonly (readonly number[])[];
  /** SQLite page cache of this connection, KiB. Default 8192 (8 MiB). */
  readonly cacheKiB?: number;
  /** Run quick_check at open when the file is at most this big. Default 64 MB. */
  readonly quickCheckBelow?: number;
  readonly now?: () => number;
  /** Tests only: other migration steps. */
  readonly migrations?: readonly Migration[];
  /**
   * A reader beside the store worker's connection (a shard's start-up load, retained lookups):
   * the file must exist at the current version (the worker opened, checked and migrated it);
   * nothing is created, moved, migrated or written.
   */
  readonly readOnly?: boolean;
}

/** A corrupt file found at open and moved aside. */
export interface CorruptionReport {
  readonly path: string;
  /** What was found, e.g. "database disk image is malformed". */
  readonly reason: string;
  /** The new names of the file and of its -wal/-shm when they existed. */
  readonly movedTo: readonly string[];
  readonly at: number;
}

/** What happened at open, for the log and $SYS. */
export interface OpenReport {
  readonly path: string;
  /** The file did not exist (or was empty) and was created. */
  readonly created: boolean;
  /** Version found before migrating; equal to `version` when nothing was migrated. */
  readonly migratedFrom: number;
  readonly version: number;
  readonly corruption: CorruptionReport | null;
  readonly quickChecked: boolean;
}

const DEFAULT_QUICK_CHECK_BELOW = 64 * 1024 * 1024;
/** Written beside the file when a read or write met corruption: the next open checks fully. */
export const SUSPECT_SUFFIX = ".suspect";

/** Opens (creating, recovering, migrating) the store file. Throws StoreError. */
export function openDatabase(opts: OpenOptions): { db: DatabaseSync; report: OpenReport } {
  if (opts.readOnly) return openReader(opts);
  const now = opts.now ?? Date.now;
  ensureWritableDir(opts.dir);
  const path = join(opts.dir, opts.file ?? "culex.db");
  let corruption: CorruptionReport | null = null;
  for (let attempt = 0;; attempt++) {
    const existed = fileSize(path) > 0;
    try {
      const found = checkHeader(path);
      if (found) throw new StoreError("corrupt", found);
      const { db, migratedFrom, version, quickChecked } = openChecked(path, opts);
      return {
        db,
        report: { path, created: !existed, migratedFrom, version, corruption, quickChecked },
      };
    } catch (e) {
      if (classifySqliteError(e) !== "corrupt" || attempt > 0) throw wrap(e, path);
      corruption = moveAside(path, errorText(e), now());
    }
  }
}

function openChecked(path: string, opts: OpenOptions) {
  const suspect = fileSize(path + SUSPECT_SUFFIX) >= 0;
  const size = fileSize(path);
  const db = new DatabaseSync(path, { timeout: 5000 });
  try {
    // One read transaction, so that the three come from one snapshot: read one by one, another
    // connection's first migration could commit in between (application_id still 0 but tables
    // there), and a new file read as a foreign one (open_test.ts, several isolates at once).
    db.exec("BEGIN");
    let appId: number, from: number, tables: number;
    try {
      appId = pragmaInt(db, "application_id");
      from = pragmaInt(db, "user_version");
      tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.n as number;
    } finally {
      db.exec("COMMIT");
    }
    const migrations = opts.migrations ?? MIGRATIONS;
    const latest = migrations[migrations.length - 1]!.version;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables > 0)) {
      throw new StoreError(
        "foreign",
        `${path} is an SQLite database that Culex did not create (application_id ${appId}); ` +
          "point node.data_dir elsewhere or move the file away",
      );
    }
    if (from > latest) {
      throw new StoreError(
        "newer_version",
        `${path} has schema version ${from}, newer than this Culex understands (${latest}); ` +
          "run the newer Culex, or move the file away to start empty (it is not changed)",
      );
    }
    // Only now, once the file is known to be ours and not newer: a refused file is not changed.
    db.exec("PRAGMA journal_mode = WAL");
    let quickChecked = false;
    if (from > 0 && (suspect || size <= (opts.quickCheckBelow ?? DEFAULT_QUICK_CHECK_BELOW))) {
      const rows = db.prepare("PRAGMA quick_check(5)").all();
      const result = rows.map((r) => String(r.quick_check)).join("; ");
      if (result !== "ok") throw new StoreError("corrupt", `quick_check: ${result}`);
      quickChecked = true;
    }
    migrate(db, path, from, migrations);
    setPragmas(db, opts);
    syncRetainedIndexes(db, opts.indexSpecs);
    if (suspect) removeQuietly(path + SUSPECT_SUFFIX);
    return { db, migratedFrom: from, version: latest, quickChecked };
  } catch (e) {
    db.close();
    throw e;
  }
}

function openReader(opts: OpenOptions): { db: DatabaseSync; report: OpenReport } {
  const path = join(opts.dir, opts.file ?? "culex.db");
  const latest = (opts.migrations ?? MIGRATIONS).at(-1)!.version;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true, timeout: 5000 });
  } catch (e) {
    throw wrap(e, path);
  }
  try {
    const version = pragmaInt(db, "user_version");
    if (pragmaInt(db, "application_id") !== APPLICATION_ID || version !== latest) {
      throw new StoreError(
        version > latest ? "newer_version" : "io",
        `${path} is not a Culex store at schema version ${latest} (found ${version}); ` +
          "open it for writing first (the store worker does)",
      );
    }
    db.exec(`PRAGMA cache_size = -${Math.max(256, Math.floor(opts.cacheKiB ?? 8192))}`);
    const report: OpenReport = {
      path,
      created: false,
      migratedFrom: version,
      version,
      corruption: null,
      quickChecked: false,
    };
    return { db, report };
  } catch (e) {
    db.close();
    throw wrap(e, path);
  }
}

function migrate(db: DatabaseSync, path: string, seen: number, steps: readonly Migration[]) {
  if (!steps.some((m) => m.version > seen)) return;
  db.exec("BEGIN IMMEDIATE");
  // Read again under the write lock: another connection may have migrated meanwhile.
  const from = pragmaInt(db, "user_version");
  const pending = steps.filter((m) => m.version > from);
  if (pending.length === 0) {
    db.exec("COMMIT");
    return;
  }
  let step: Migration | undefined;
  try {
    for (step of pending) {
      db.exec(step.sql);
      db.exec(`PRAGMA user_version = ${step.version}`);
    }
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('migrated_at', ?)")
      .run(new Date().toISOString());
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    if (classifySqliteError(e) === "corrupt") throw e;
    throw new StoreError(
      "migration_failed",
      `Cannot migrate ${path} from schema version ${from} to ${step?.version}: ${errorText(e)}; ` +
        "the file was left as it was",
      { cause: e },
    );
  }
}

/** WAL frames between automatic checkpoints (SQLite's default is 1,000). */
export const WAL_CHECKPOINT_PAGES = 10_000;
/** A WAL longer than this is truncated to it after a checkpoint. */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

function setPragmas(db: DatabaseSync, opts: OpenOptions): void {
  db.exec(`PRAGMA synchronous = ${opts.sync === "full" ? "FULL" : "NORMAL"}`);
  db.exec("PRAGMA temp_store = MEMORY");
  // 8 MiB of page cache by default: enough for the hot index pages, small against the RSS
  // budget (1,000,000 queued messages must not grow RSS by more than ~50 MB).
  db.exec(`PRAGMA cache_size = -${Math.max(256, Math.floor(opts.cacheKiB ?? 8192))}`);
  const pageSize = pragmaInt(db, "page_size");
  // 0 means no cap: SQLite's own maximum.
  const pages = opts.maxStoreSize > 0 ? Math.max(16, Math.floor(opts.maxStoreSize / pageSize)) : 0;
  db.exec(`PRAGMA max_page_count = ${pages > 0 ? pages : 4294967294}`);
  // Checkpoint every WAL_CHECKPOINT_PAGES instead of SQLite's 1,000: a checkpoint (two fsyncs
  // and a copy of every page the WAL holds) ran in the middle of a commit every fraction of a
  // second under durable fan-in, and a busy queue rewrites the same few pages, so a longer WAL
  // holds few more distinct pages to copy. Commits are as durable either way (the WAL is the
  // commit); the WAL file grows to about WAL_CHECKPOINT_PAGES pages (40 MiB at 4 KiB) and
  // is cut back to WAL_LIMIT_BYTES after a checkpoint that found it longer (bench/README.md,
  // "Durable sessions").
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  db.exec(`PRAGMA journal_size_limit = ${WAL_LIMIT_BYTES}`);
}

function syncRetainedIndexes(db: DatabaseSync, specs: readonly (readonly number[])[]): void {
  const wanted = new Set(specs.map(retainedIndexName));
  const have = db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'retained' " +
      "AND name GLOB 'retained_l*'",
  ).all().map((r) => String(r.name));
  for (const name of have) if (!wanted.has(name)) db.exec(`DROP INDEX ${name}`);
  for (const spec of specs) db.exec(retainedIndexSql(spec));
}

/**
 * Cheap checks on the first 100 bytes and the size, before SQLite opens the file: a
 * description of the damage, or null. An empty or missing file is fine (a new store).
 */
function checkHeader(path: string): string | null {
  const size = fileSize(path);
  if (size <= 0) return null;
  if (size < 100) return `truncated: ${size} bytes, shorter than an SQLite header`;
  const h = new Uint8Array(100);
  const f = Deno.openSync(path, { read: true });
  try {
    let got = 0;
    while (got < 100) {
      const n = f.readSync(h.subarray(got));
      if (n === null) break;
      got += n;
    }
  } finally {
    f.close();
  }
  if (new TextDecoder().decode(h.subarray(0, 16)) !== "SQLite format 3\0") {
    return "not an SQLite file (bad header)";
  }
  const raw = (h[16]! << 8) | h[17]!;
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return `bad page size ${raw}`;
  if (size % pageSize !== 0) return `truncated: ${size} bytes is not a whole number of pages`;
  const u32 = (o: number) =>
    ((h[o]! << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!) >>> 0;
  const pages = u32(28);
  // The header's page count is valid when its "version-valid-for" equals the change counter,
  // and only says what the file holds when no WAL is left: a checkpoint cut short (a full
  // disk, kill -9) may have written page 1 and not the pages after it, which the WAL still has.
  const walLeft = fileSize(path + "-wal") > 32;
  if (!walLeft && pages > 0 && u32(92) === u32(24) && pages * pageSize > size) {
    return `truncated: the header says ${pages} pages, the file holds ${size / pageSize}`;
  }
  return null;
}

function moveAside(path: string, reason: string, at: number): CorruptionReport {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const movedTo: string[] = [];
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 1; fileSize(target) >= 0; n++) target = `${path}.corrupt-${stamp}-${n}`;
  for (const suffix of ["", "-wal", "-shm", SUSPECT_SUFFIX]) {
    if (fileSize(path + suffix) < 0) continue;
    try {
      Deno.renameSync(path + suffix, target + suffix);
      movedTo.push(target + suffix);
    } catch (e) {
      throw new StoreError("io", `Cannot move the corrupt ${path}${suffix} aside: ${errorText(e)}`);
    }
  }
  return { path, reason, movedTo, at };
}

function ensureWritableDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    // Unique per call: isolates of one process (same pid) may open at the same moment.
    const probe = join(dir, `.culex-write-test-${crypto.randomUUID()}`);
    Deno.writeFileSync(probe, new Uint8Array(1));
    Deno.removeSync(probe);
  } catch (e) {
    throw new StoreError(
      "not_writable",
      `node.data_dir ${dir} is not a writable directory: ${errorText(e)}`,
      { cause: e },
    );
  }
}

function wrap(e: unknown, path: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = classifySqliteError(e);
  return new StoreError(code, `Cannot open the store ${path}: ${errorText(e)}`, { cause: e });
}

function pragmaInt(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get();
  return Number(row?.[name] ?? 0);
}

/** Size of a file, -1 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return -1;
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}
