/**
 * A shard's persistent sessions at start (durable mode), page by page, read on a read-only
 * SQLite connection of the shard's own beside the store worker's, closed when the last page is
 * read. Why: through the worker the shards' reads took turns on its one connection and every
 * page crossed as structured clone (about 1.3 s per shard for 50,000 sessions, the two shards
 * one after the other: most of issue 13's restart); on their own connections both shards read
 * at once, in their own isolates, and nothing is copied between isolates.
 *
 * Same data as the worker's read: the worker opened (recovered, migrated) the file before it
 * answered the shard's first read, only the shard writes its partitions' sessions and it
 * writes none before its load ends, and a WAL reader sees every commit made before it began.
 * When the connection cannot be opened, or a read on it fails, the pages (from the last one
 * read on) come from the worker as before, so an error is reported by the same path as before.
 * Private to src/shard/ (shard.ts).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { type LoadedSession, Store, storeOptions } from "../store/mod.ts";
import type { ShardStore } from "./durable.ts";

/** Sessions per page: bounds what is held at once (a page is restored before the next read). */
export const SESSION_PAGE = 10_000;

/** Yields the sessions of `partitions` in sid order, in pages of at most SESSION_PAGE. */
export async function* sessionPages(
  store: ShardStore,
  config: Config,
  partitions: readonly number[],
  log: Logger,
): AsyncGenerator<LoadedSession[]> {
  let after = 0;
  const own = openReader(config, log);
  if (own) {
    try {
      for (;;) {
        let page: LoadedSession[];
        try {
          page = own.sessions(partitions, after, SESSION_PAGE);
        } catch (e) {
          log.debug("Own read of sessions failed ({err}); reading through the store worker", {
            err: e instanceof Error ? e.message : String(e),
          });
          break;
        }
        yield page;
        if (page.length < SESSION_PAGE) return;
        after = page[page.length - 1]!.sid;
      }
    } finally {
      own.close();
    }
  }
  for (;;) {
    const page = await store.client.readAsync({
      kind: "sessions",
      partitions: [...partitions],
      afterSid: after,
      limit: SESSION_PAGE,
    });
    yield page;
    if (page.length < SESSION_PAGE) return;
    after = page[page.length - 1]!.sid;
  }
}

/** The shard's read-only connection, or null (then the worker serves the reads). */
function openReader(config: Config, log: Logger): Store | null {
  try {
    return Store.open({ ...storeOptions(config), readOnly: true });
  } catch (e) {
    log.debug("Own read-only store connection refused ({err}); reading through the worker", {
      err: e instanceof Error ? e.message : String(e),
    });
    return null;
  }
}
