/**
 * TombstoneFile: the retained clears (RetainTombstones) of a node whose retained messages are on
 * disc (`retainer.backend.storage_type: disc`), kept in `<node.data_dir>/cluster_retain_clears.json`
 * so that a restarted node still refuses a peer's older copy of a message deleted before the
 * restart (without it, the restarted node would take that copy and hand it back to everyone).
 * The whole list is rewritten (temp file, fsync, rename) at most every WRITE_DELAY_MS after a
 * change, and once more at stop: a clear made less than that before a crash can be lost. Only
 * [topic, publish time, remembered since] is kept; the clear's bytes are made again at load.
 * A missing file is an empty list; an unreadable one is logged and ignored. Owns the file.
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import type { RetainTombstones } from "./heal.ts";

const log = getLogger(["culex", "cluster"]);

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

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#write();
    }, WRITE_DELAY_MS);
  }

  #read(): [string, number, number][] {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        log.warning("Cluster: cannot read {path}: {error}", {
          path: this.#path,
          error: String(err),
        });
      }
      return [];
    }
    try {
      const body = JSON.parse(text) as { clears?: unknown };
      const list = Array.isArray(body.clears) ? body.clears : [];
      return list.filter((e): e is [string, number, number] =>
        Array.isArray(e) && typeof e[0] === "string" && Number.isFinite(e[1]) &&
        Number.isFinite(e[2])
      );
    } catch (err) {
      log.warning("Cluster: ignoring {path}: {error}", { path: this.#path, error: String(err) });
      return [];
    }
  }

  #write(): void {
    const tmp = `${this.#path}.tmp`;
    try {
      const text = JSON.stringify({ clears: [...this.#tombstones.entries()] }) + "\n";
      const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
      try {
        const bytes = new TextEncoder().encode(text);
        for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
        file.syncDataSync();
      } finally {
        file.close();
      }
      Deno.renameSync(tmp, this.#path);
    } catch (err) {
      log.warning("Cluster: cannot write {path}: {error}", {
        path: this.#path,
        error: String(err),
      });
    }
  }
}
