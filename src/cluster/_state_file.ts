/**
 * The small JSON files a node keeps beside its store (`cluster_joined.json`,
 * `cluster_retain_clears.json`): one object with one list. Reading never fails a start (a missing
 * file is an empty list, an unreadable or malformed one is logged and ignored); writing replaces
 * the file whole (temp file, fsync, rename), so a crash leaves the old list or the new one.
 * Private to src/cluster/.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["culex", "cluster"]);

/** The list under `key` in the file at `path`; [] when missing, unreadable or malformed. */
export function readStateList(path: string, key: string): unknown[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      log.warning("Cluster: cannot read {path}: {error}", { path, error: String(err) });
    }
    return [];
  }
  try {
    const body = JSON.parse(text) as Record<string, unknown> | null;
    const list = body?.[key];
    return Array.isArray(list) ? list : [];
  } catch (err) {
    log.warning("Cluster: ignoring {path}: {error}", { path, error: String(err) });
    return [];
  }
}

/** Replaces the file at `path` with `{ [key]: list }`; a failure is logged, not thrown. */
export function writeStateList(path: string, key: string, list: readonly unknown[]): void {
  const tmp = `${path}.tmp`;
  try {
    const bytes = new TextEncoder().encode(JSON.stringify({ [key]: list }) + "\n");
    const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      file.syncDataSync();
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    log.warning("Cluster: cannot write {path}: {error}", { path, error: String(err) });
  }
}
