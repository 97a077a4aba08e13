/**
 * StoreFaults: the Store's policy for failures at run time. Turns a SQLite error into a
 * StoreError with its code, remembers a full disk, corruption (and marks the file suspect, so the
 * next start checks it and moves it aside) and the last error for health(), and logs each kind at
 * most once a minute. Private to src/store/; owns that state and nothing of the connection.
 */

import { getLog } from "../log.ts";
import { classifySqliteError, errorText, StoreError } from "./errors.ts";
import { SUSPECT_SUFFIX } from "./_open.ts";

const LOG_EVERY_MS = 60_000;
const log = getLog("store");

/** See the file header. */
export class StoreFaults {
  readonly #path: string;
  readonly #now: () => number;
  #full = false;
  #corruptSeen = false;
  #lastError: string | null = null;
  readonly #lastLog = new Map<string, number>();

  constructor(path: string, now: () => number) {
    this.#path = path;
    this.#now = now;
  }

  /** What health() reports of the run so far. */
  seen(): { full: boolean; corruptSeen: boolean; lastError: string | null } {
    return { full: this.#full, corruptSeen: this.#corruptSeen, lastError: this.#lastError };
  }

  /** A write went in: the store is not full (any more). */
  wrote(): void {
    this.#full = false;
  }

  /** New writes are refused for lack of space; `kept` says what of them was applied. */
  refuseFull(kept: string): StoreError {
    this.#full = true;
    const message = `The store ${this.#path} is full: new writes are refused (${kept})`;
    this.#limitedLog("full", message);
    this.#lastError = message;
    return new StoreError("full", message);
  }

  /** A failed read or write as a StoreError; the error (and corruption) is remembered. */
  fault(e: unknown, kind: "read" | "write"): StoreError {
    if (e instanceof StoreError) return e;
    const code = classifySqliteError(e);
    const message = `Store ${kind} failed on ${this.#path}: ${errorText(e)}`;
    this.#lastError = message;
    if (code === "corrupt") {
      this.#corruptSeen = true;
      // The next start runs quick_check and moves the file aside if it fails.
      try {
        Deno.writeTextFileSync(
          this.#path + SUSPECT_SUFFIX,
          `${new Date().toISOString()} ${message}\n`,
        );
      } catch { /* the disk may be the problem; the error is logged below */ }
    }
    this.#limitedLog(code, message);
    return new StoreError(code, message, { cause: e });
  }

  #limitedLog(kind: string, message: string): void {
    const now = this.#now();
    const last = this.#lastLog.get(kind);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.#lastLog.set(kind, now);
    log.error("{message}", { message });
  }
}
