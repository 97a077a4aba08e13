/**
 * The start-up read of a shard's persistent sessions (_session_pages.ts): on the shard's own
 * read-only connection, and through the store worker when that connection cannot open; both
 * give every session of the shard's partitions, in sid order, in pages of at most SESSION_PAGE.
 */

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { loadConfig } from "../config/mod.ts";
import { type LoadedSession, makeKey, Store, StoreBatch } from "../store/mod.ts";
import { cleanup, options, tempDir } from "../store/_test_util.ts";
import type { ShardStore } from "./durable.ts";
import { SESSION_PAGE, sessionPages } from "./_session_pages.ts";

const MINE = [1, 2];

/** A store with sessions in partitions 0-3, more than a page in partitions 1-2. */
function seed(dir: string): Store {
  const store = Store.open(options(dir));
  const b = new StoreBatch();
  for (const p of [0, 1, 2, 3]) {
    const n = p === 1 ? SESSION_PAGE + 7 : 300;
    for (let i = 1; i <= n; i++) {
      b.session({
        sid: makeKey(p, i),
        clientId: `c${p}-${i}`,
        protoVer: 5,
        expiryMs: 60_000,
        connected: false,
        disconnectedAt: 5,
        createdAt: 1,
        will: null,
        willDelayMs: 0,
      });
    }
  }
  store.apply(b.take());
  return store;
}

/** A ShardStore whose worker reads come from `store`, counted. */
function viaWorker(store: Store, calls: { n: number }): ShardStore {
  const client = {
    readAsync(q: { partitions: number[]; afterSid: number; limit: number }) {
      calls.n++;
      return Promise.resolve(store.sessions(q.partitions, q.afterSid, q.limit));
    },
  };
  return { client } as unknown as ShardStore;
}

async function readAll(shard: ShardStore, dataDir: string) {
  const config = loadConfig({ sets: [`node.data_dir=${dataDir}`] });
  const pages: LoadedSession[][] = [];
  for await (const page of sessionPages(shard, config, MINE, getLogger(["culex", "test"]))) {
    pages.push(page);
  }
  return pages;
}

Deno.test("sessionPages reads on its own connection, every session of its partitions in order", async () => {
  const dir = tempDir();
  const store = seed(dir);
  try {
    const calls = { n: 0 };
    const pages = await readAll(viaWorker(store, calls), dir);
    assert.equal(calls.n, 0, "the worker was not asked");
    assert.ok(pages.every((p) => p.length <= SESSION_PAGE));
    const all = pages.flat();
    assert.equal(all.length, SESSION_PAGE + 7 + 300);
    assert.deepEqual(all, store.sessions(MINE, 0, 1_000_000));
  } finally {
    store.close();
    cleanup(dir);
  }
});

Deno.test("sessionPages reads through the worker when its own connection cannot open", async () => {
  const dir = tempDir();
  const store = seed(dir);
  try {
    const calls = { n: 0 };
    const pages = await readAll(viaWorker(store, calls), `${dir}/missing`);
    assert.equal(calls.n, pages.length);
    assert.deepEqual(pages.flat(), store.sessions(MINE, 0, 1_000_000));
  } finally {
    store.close();
    cleanup(dir);
  }
});
