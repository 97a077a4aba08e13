/**
 * Public surface of src/store/: the durable store on node:sqlite (WAL) under node.data_dir.
 * Other folders import from here only. See docs/store.md for the design, the measurements
 * behind the store worker, and how the shard and supervisor wire it in.
 *
 * - `Store`: the synchronous API over one connection (whichever isolate owns it).
 * - `StoreBatch`: what a shard collects per pass and commits once.
 * - `startStoreWorker` / `StoreClient`: the store worker and a client's end of its protocol.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { StoreWorkerOptions } from "./protocol.ts";

export { StoreError, type StoreErrorCode } from "./errors.ts";
export {
  allPartitions,
  KEYS_PER_PARTITION,
  makeKey,
  partitionOfKey,
  partitionRanges,
  PARTITIONS,
} from "./keys.ts";
export { APPLICATION_ID, SCHEMA_VERSION } from "./schema.ts";
export { Store, type StoreHealth, type StoreOptions } from "./store.ts";
export type { CorruptionReport, OpenReport } from "./_open.ts";
export type { DelayedRow, LoadedSession, NextKeys, OutgoingRow } from "./_reads.ts";
export type { RetainedPage, RetainedRow } from "./_retained.ts";
export { planRetained, type RetainedPlan } from "./retained_plan.ts";
export { type DeliveryLike, type SessionInfo, StoreBatch } from "./batch.ts";
export {
  type AclRule,
  type AclRuleSet,
  type AclWhoType,
  type ApplyResult,
  type BanRecord,
  isReleasingOp,
  Phase,
  type PhaseValue,
  type SessionRow,
  type StoreOp,
  type SubOptionsRecord,
  type UserRecord,
  type WireBatch,
} from "./types.ts";
export {
  type CommitPart,
  type CommitToken,
  isRefusal,
  MAX_READ_LIMIT,
  type PartResult,
  type ReadQuery,
  type ReadResults,
  type StoreWorkerOptions,
} from "./protocol.ts";
export { StoreClient } from "./client.ts";
export { startStoreWorker, type StoreWorkerHandle } from "./spawn.ts";
export { backupStore } from "./backup.ts";
export { StoreHost } from "./worker_host.ts";

/**
 * The store options a Config asks for (node.data_dir, durable_sessions.*, retainer.backend.*).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * import { storeOptions } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const o = storeOptions(loadConfig({ sets: ["node.data_dir=/tmp/culex"] }));
 * assert.ok(o.dir === "/tmp/culex" && o.sync === "normal");
 * ```
 */
export function storeOptions(config: Config): StoreWorkerOptions {
  return {
    dir: config.node.dataDir,
    sync: config.durableSessions.sync,
    maxStoreSize: config.durableSessions.maxStoreSize,
    indexSpecs: config.retainer.indexSpecs,
    maxRetained: config.retainer.maxRetainedMessages,
  };
}
