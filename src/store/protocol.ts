/**
 * The store worker's message protocol: what shards (and the supervisor) send over their
 * MessagePort and what the worker answers, plus the worker's control messages. Types only, all
 * structured-clonable. Owned by src/store/; client.ts and worker_host.ts are its two ends.
 *
 * Ordering: on one port, requests are handled in the order sent. A worker turn commits every
 * ready part that arrived (from all ports) in one transaction, replies, and only then answers
 * reads, so a read sees every commit its port sent before it (token parts still held excepted).
 */

import type { LogConfig } from "../config/mod.ts";
import type { StoreErrorCode } from "./errors.ts";
import type { OpenReport } from "./_open.ts";
import type { DelayedRow, LoadedSession, NextKeys, OutgoingRow } from "./_reads.ts";
import type { RetainedPage } from "./_retained.ts";
import type { StoreHealth, StoreOptions } from "./store.ts";
import type {
  AclRuleSet,
  AclWhoType,
  ApplyResult,
  BanRecord,
  StoreOp,
  UserRecord,
  WireBatch,
} from "./types.ts";

/**
 * Joins parts from several shards into one transaction: the worker holds each part carrying
 * `key` until `parts` of them arrived, then commits them together. The publishing shard makes
 * the key and counts itself plus every destination shard; each destination sends its part
 * (possibly empty) for that key. So a QoS 1/2 publish is committed for all its persistent
 * sessions at once, and the publisher's own "committed" reply is enough to acknowledge it.
 */
export interface CommitToken {
  readonly key: string;
  readonly parts: number;
}

/**
 * The parts of a commit request as they cross the port (src/store/_commit_codec.ts): `buf` (the
 * per-message ops, messages and tokens) is transferred; `cold` holds the other ops, in order.
 */
export interface PackedCommit {
  readonly buf: Uint8Array<ArrayBuffer>;
  readonly cold: readonly StoreOp[];
}

/** One part of a commit request: it commits with every other part of each of its tokens. */
export interface CommitPart {
  readonly batch: WireBatch;
  /** One token (tests, and parts made one per publish). */
  readonly token?: CommitToken;
  /** Several (a shard's part of a pass carries every token joined in the pass). */
  readonly tokens?: readonly CommitToken[];
}

/** A read; each answers one page or value (bounded by `limit`, capped by the worker). */
export type ReadQuery =
  | {
    readonly kind: "sessions";
    readonly partitions: readonly number[];
    readonly afterSid: number;
    readonly limit: number;
  }
  | {
    readonly kind: "outgoing";
    readonly sid: number;
    readonly afterSeq: number;
    readonly limit: number;
  }
  | { readonly kind: "awaitingRel"; readonly sid: number }
  | { readonly kind: "delayed"; readonly partitions: readonly number[] }
  | { readonly kind: "nextKeys"; readonly partitions: readonly number[] }
  | { readonly kind: "sidOf"; readonly clientId: string }
  | {
    readonly kind: "retained";
    readonly filter: string;
    readonly cursor: string | null;
    readonly limit: number;
  }
  | { readonly kind: "retainedCount" }
  | {
    readonly kind: "banned";
    readonly after: { readonly as: string; readonly who: string } | null;
    readonly limit: number;
  }
  | { readonly kind: "user"; readonly userIdType: string; readonly userId: string }
  | {
    readonly kind: "users";
    readonly userIdType: string;
    readonly afterId: string | null;
    readonly limit: number;
  }
  | { readonly kind: "acl"; readonly whoType: AclWhoType; readonly who: string }
  | {
    readonly kind: "acls";
    readonly whoType: AclWhoType;
    readonly afterWho: string | null;
    readonly limit: number;
  }
  | { readonly kind: "health" };

/** The value each read answers. */
export interface ReadResults {
  sessions: LoadedSession[];
  outgoing: OutgoingRow[];
  awaitingRel: { packetId: number; receivedAt: number }[];
  delayed: DelayedRow[];
  nextKeys: NextKeys;
  sidOf: number | null;
  retained: RetainedPage;
  retainedCount: number;
  banned: BanRecord[];
  user: UserRecord | null;
  users: UserRecord[];
  acl: AclRuleSet | null;
  acls: AclRuleSet[];
  health: StoreHealth;
}

/**
 * A retained page as it crosses to the client: bodies packed in one transferred buffer (three
 * times cheaper to post than a thousand row objects, measured); the client unpacks it into a
 * RetainedPage whose bodies are views of that buffer.
 */
export interface PackedRetainedPage {
  readonly packed: true;
  readonly topics: readonly string[];
  readonly buf: Uint8Array<ArrayBuffer>;
  /** offsets[i]..offsets[i + 1] is body i. */
  readonly offsets: Uint32Array<ArrayBuffer>;
  readonly next: string | null;
}

/** Packs a page for postMessage; transfer `[buf.buffer, offsets.buffer]`. */
export function packRetainedPage(page: RetainedPage): PackedRetainedPage {
  let size = 0;
  for (const r of page.rows) size += r.body.length;
  const buf = new Uint8Array(size);
  const offsets = new Uint32Array(page.rows.length + 1);
  let o = 0;
  page.rows.forEach((r, i) => {
    offsets[i] = o;
    buf.set(r.body, o);
    o += r.body.length;
  });
  offsets[page.rows.length] = o;
  return { packed: true, topics: page.rows.map((r) => r.topic), buf, offsets, next: page.next };
}

/** The RetainedPage of a packed one (bodies are views, not copies). */
export function unpackRetainedPage(p: PackedRetainedPage): RetainedPage {
  const rows = p.topics.map((topic, i) => ({
    topic,
    body: p.buf.subarray(p.offsets[i]!, p.offsets[i + 1]!),
  }));
  return { rows, next: p.next };
}

/** Client → worker. */
export type StoreRequest =
  /** The parts, packed (_commit_codec.ts); `packed.buf` is transferred. */
  | { readonly t: "commit"; readonly id: number; readonly packed: PackedCommit }
  | { readonly t: "read"; readonly id: number; readonly q: ReadQuery };

/** The outcome of one part: applied, or refused with the StoreError's code and message. */
export type PartResult =
  | ApplyResult
  | { readonly code: StoreErrorCode; readonly message: string };

/** Worker → client. */
export type StoreReply =
  | { readonly t: "committed"; readonly id: number; readonly results: readonly PartResult[] }
  | { readonly t: "result"; readonly id: number; readonly value: unknown }
  | {
    readonly t: "error";
    readonly id: number;
    readonly code: StoreErrorCode;
    readonly message: string;
  };

/** Supervisor → worker (on the Worker itself). */
export type StoreControl =
  | {
    readonly t: "init";
    readonly options: StoreWorkerOptions;
    /**
     * `log.*` of the node: the console as configured, and the file handler's lines sent back as
     * `{t: "log", line}` for the main isolate to write (it owns the file and its rotation).
     * Only level and format (a test): the console alone.
     */
    readonly log?: StoreLogConfig;
  }
  | { readonly t: "connect"; readonly port: MessagePort }
  /** A reload changed `log.*`: new levels for the worker's handlers (lines still forwarded). */
  | { readonly t: "log"; readonly log: LogConfig }
  | { readonly t: "close" };

/** StoreOptions without the functions (which cannot cross isolates). */
export type StoreWorkerOptions = Omit<StoreOptions, "now" | "migrations"> & {
  /** Held token parts older than this are committed without the missing ones. Default 5000. */
  readonly tokenTimeoutMs?: number;
};

/** Worker → supervisor. */
export type StoreControlReply =
  | { readonly t: "opened"; readonly report: OpenReport }
  | { readonly t: "open_failed"; readonly code: StoreErrorCode; readonly message: string }
  | { readonly t: "closed" }
  /** A line for `log.file`, formatted in the worker (the main isolate writes it). */
  | { readonly t: "log"; readonly line: string };

/** The store worker's logging: the node's `log.*`, or just a console level and format. */
export type StoreLogConfig =
  | LogConfig
  | {
    readonly level: "debug" | "info" | "warning" | "error";
    readonly format: "text" | "json";
  };

/** True when a part's result is a refusal. */
export function isRefusal(r: PartResult): r is { code: StoreErrorCode; message: string } {
  return "code" in r;
}

/** Largest page the worker answers, whatever the client asked. */
export const MAX_READ_LIMIT = 10_000;
