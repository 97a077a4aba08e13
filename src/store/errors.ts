/**
 * StoreError: the one error the store raises, with a code the caller maps to a reason code or a
 * start-up decision; and the classification of SQLite's errors into those codes. Owned by
 * src/store/; knows SQLite's messages and result codes, nothing of MQTT.
 */

/**
 * What went wrong:
 * - `full`: the disk or `durable_sessions.max_store_size` is full; growing writes were refused
 *   (deletes and updates of the same batch were applied when possible). PUBACK 0x97 in MQTT 5.
 * - `corrupt`: SQLite found the file damaged (at start the store moves it aside instead).
 * - `newer_version`: the file was written by a newer Culex (schema version above ours).
 * - `foreign`: the file is an SQLite database that Culex did not create.
 * - `not_writable`: node.data_dir cannot be created or written.
 * - `migration_failed`: a forward migration failed; the file was left as it was.
 * - `closed`: the store was closed.
 * - `io`: any other SQLite or file-system failure.
 */
export type StoreErrorCode =
  | "full"
  | "corrupt"
  | "newer_version"
  | "foreign"
  | "not_writable"
  | "migration_failed"
  | "closed"
  | "io";

/** The store's domain error. `code` is stable; `message` names the file and what was found. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}

// SQLite primary result codes (https://sqlite.org/rescode.html).
const SQLITE_IOERR = 10, SQLITE_CORRUPT = 11, SQLITE_FULL = 13, SQLITE_NOTADB = 26;

/**
 * The StoreErrorCode of an error thrown by node:sqlite. Statement errors carry `errcode`;
 * errors from `exec()` (BEGIN/COMMIT) carry only the message, so both are read.
 *
 * @example
 * ```ts
 * import { classifySqliteError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.ok(classifySqliteError(new Error("database or disk is full")) === "full");
 * ```
 */
export function classifySqliteError(e: unknown): StoreErrorCode {
  if (e instanceof StoreError) return e.code;
  const err = e as { errcode?: unknown; message?: unknown } | null;
  const code = typeof err?.errcode === "number" ? err.errcode & 0xff : -1;
  const message = typeof err?.message === "string" ? err.message : String(e);
  if (code === SQLITE_FULL || /database or disk is full/i.test(message)) return "full";
  if (
    code === SQLITE_CORRUPT || code === SQLITE_NOTADB ||
    /malformed|file is not a database|database corruption/i.test(message)
  ) return "corrupt";
  if (code === SQLITE_IOERR || /disk I\/O error/i.test(message)) return "io";
  return "io";
}

/** The message of any thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Makes `stmt` return rows as arrays. node:sqlite's row objects (null prototype, dictionary
 * mode) cost ten times more to build and read (measured: 10,000 sessions, 306 ms as objects,
 * 35 ms as arrays). Deno 2.9.6 has the method; its bundled Node types do not declare it.
 */
export function returnArrays<T extends object>(stmt: T): T {
  const s = stmt as T & { setReturnArrays?: (on: boolean) => void };
  if (typeof s.setReturnArrays !== "function") {
    throw new TypeError("This runtime's node:sqlite has no StatementSync.setReturnArrays()");
  }
  s.setReturnArrays(true);
  return stmt;
}
