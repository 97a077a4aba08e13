/**
 * Config types of the durable store's keys (issue 13): durable_sessions.*, retainer.* with its
 * EMQX `backend` block, node.data_dir. Owned by src/config/ (built by _schema_store.ts, frozen
 * by loadConfig); re-exported from types.ts. Nothing else constructs these.
 */

/** `retainer.backend.storage_type`: EMQX's names. */
export type RetainerStorageType = "ram" | "disc";

/** `durable_sessions.sync`: SQLite's `synchronous` for the store file. */
export type StoreSync = "normal" | "full";

export interface RetainerConfig {
  readonly enable: boolean;
  /**
   * Retained messages in the whole broker; 0 = unlimited. Resolved: the deprecated
   * `retainer.max_retained_messages` when set, else `retainer.backend.max_retained_messages`.
   */
  readonly maxRetainedMessages: number;
  readonly maxPayloadSize: number;
  /** ram: in the shards' memory (lost on restart); disc: in the store file. */
  readonly storageType: RetainerStorageType;
  /**
   * `retainer.backend.index_specs`: topic level positions (1-based, each list one index) that
   * wildcard lookups of a disc retainer can use, as EMQX's built-in database does.
   */
  readonly indexSpecs: readonly (readonly number[])[];
}

export interface DurableSessionsConfig {
  /** Persistent sessions, their queues and inflight messages live in the store file. */
  readonly enable: boolean;
  /** normal: survives a crash (kill -9); full: also a power cut (fsync per commit). */
  readonly sync: StoreSync;
  /** Largest size of the store file in bytes; 0 = until the disk is full. */
  readonly maxStoreSize: number;
}
