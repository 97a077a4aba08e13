/**
 * Helpers for src/store/ tests: temp directories, a message factory, options. Test-only; not
 * exported from mod.ts.
 */

import nodeAssert from "node:assert/strict";
import type { Message } from "../mqtt/mod.ts";
import type { StoreBatch } from "./batch.ts";
import { Store, type StoreOptions } from "./store.ts";

export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  // A message replaces node's diff; keep the diff and put ours in front.
  try {
    nodeAssert.deepEqual(actual, expected);
  } catch (e) {
    if (msg !== undefined && e instanceof Error) e.message = `${msg}: ${e.message}`;
    throw e;
  }
}

export function assert(value: unknown, msg = "assertion failed"): asserts value {
  nodeAssert.ok(value, msg);
}

/** A fresh temp dir; remove with cleanup(). */
export function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "culex-store-test-" });
}

export function cleanup(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}

export function options(dir: string, over: Partial<StoreOptions> = {}): StoreOptions {
  return {
    dir,
    sync: "normal",
    maxStoreSize: 0,
    indexSpecs: [[1, 2, 3], [1, 3], [2, 3], [3]],
    ...over,
  };
}

const enc = new TextEncoder();

export function msg(topic: string, payload = "x", over: Partial<Message> = {}): Message {
  return {
    topic,
    payload: enc.encode(payload),
    qos: 1,
    retain: false,
    properties: {},
    origin: "pub",
    expiresAt: 0,
    timestamp: 1000,
    ...over,
  };
}

export const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A session row for StoreBatch.session() with test defaults; `over` replaces fields. */
export function session(
  sid: number,
  clientId: string,
  over: Partial<Parameters<StoreBatch["session"]>[0]> = {},
) {
  return {
    sid,
    clientId,
    protoVer: 5,
    expiryMs: 60_000,
    connected: true,
    disconnectedAt: 0,
    createdAt: 1,
    will: null,
    willDelayMs: 0,
    ...over,
  };
}

/** Runs `fn` on a Store opened in a fresh temp dir, then closes it and removes the dir. */
export function withStore(fn: (store: Store, dir: string) => void): void {
  const dir = tempDir();
  const store = Store.open(options(dir));
  try {
    fn(store, dir);
  } finally {
    store.close();
    cleanup(dir);
  }
}
