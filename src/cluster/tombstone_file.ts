/**
 * TombstoneFile: the retained clears (RetainTombstones) of a node whose retained messages are on
 * disc (`retainer.backend.storage_type: disc`), kept in `<node.data_dir>/cluster_retain_clears.json`
 * so that a restarted node still refuses a peer's older copy of a message deleted before the
 * restart (without it, the restarted node would take that copy and hand it back to everyone).
 * The whole list is rewritten (temp file, fsync, rename) at most WRITE_DELAY_MS after a change
 * (write-behind: a clear received from a peer or made by a client's empty retained PUBLISH, made
 * less than that before a crash, can be lost), at once when flush() is called (deletes through the
 * API or `ctl retainer clean`: their answer waits for it), and once more at stop. Only
 * [topic, publish time, remembered since] is kept; the clear's bytes are made again at load.
 * A missing file is an empty list; an unreadable one is logged and ignored. Owns the file.
 */

import { join } from "node:path";
import type { RetainTombstones } from "./heal.ts";
import { readStateList, writeStateList } from "./_state_file.ts";

/** Longest time a change waits before the file is rewritten. */
export const WRITE_DELAY_MS = 200;

/** See the file header. */
export class TombstoneFile {
  readonly #path: string;
  readonly #tombstones: RetainTombstones;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(dataDir: string, tombstones: RetainTombstones) {
    this.#path = join(dataDir, "cluster_retain_clears.json");
    this.#tombstones = tombstones;
  }

  /** Restores the clears of an earlier run, then keeps every change; returns how many. */
  start(): number {
    let n = 0;
    for (const [topic, at, kept] of this.#read()) {
      this.#tombstones.restore(topic, at, kept);
      n++;
    }
    this.#tombstones.onChange = () => this.#schedule();
    return n;
  }

  /** Writes what is pending now and stops keeping changes. */
  stop(): void {
    this.#tombstones.onChange = null;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#write();
    }
  }

  /**
   * Writes a pending change now (temp file, fsync, rename), so that the caller's answer comes
   * after the clears are on disc; nothing to do when no change is pending.
   */
  flush(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#write();
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#write();
    }, WRITE_DELAY_MS);
  }

  #read(): [string, number, number][] {
    return readStateList(this.#path, "clears").filter((e): e is [string, number, number] =>
      Array.isArray(e) && typeof e[0] === "string" && Number.isFinite(e[1]) &&
      Number.isFinite(e[2])
    );
  }

  #write(): void {
    writeStateList(this.#path, "clears", [...this.#tombstones.entries()]);
  }
}
