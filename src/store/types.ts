/**
 * The store's records and write operations. Plain data: every type here is structured-clonable,
 * so the same batch goes to a Store in this isolate or, by postMessage, to the store worker.
 * Owned by src/store/; the shard builds batches with StoreBatch (batch.ts), never by hand.
 *
 * Messages travel as `encodeMessage()` bytes (src/mqtt/message.ts, versioned there) in the
 * batch's `msgs` list; operations refer to them by index, so a message delivered to many
 * persistent sessions in one batch is encoded and stored once.
 */

/** Subscription options as granted [MQTT-3.8.3.1], as stored. */
export interface SubOptionsRecord {
  readonly qos: 0 | 1 | 2;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  /** MQTT 5 subscription identifier; 0 = none. */
  readonly subscriptionId: number;
}

/** A persistent session's own row. `sid` is a partitioned key (keys.ts). */
export interface SessionRow {
  readonly sid: number;
  readonly clientId: string;
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5. */
  readonly protoVer: number;
  /** Milliseconds the session outlives its connection; -1 = never expires. */
  readonly expiryMs: number;
  /** True while a connection is bound (a crash leaves it true: the loader sees it). */
  readonly connected: boolean;
  /** Epoch ms the last connection ended; 0 while connected. */
  readonly disconnectedAt: number;
  readonly createdAt: number;
  /** Index of the will in the batch's msgs, or -1 without a will. */
  readonly will: number;
  /** MQTT 5 Will Delay Interval, ms. */
  readonly willDelayMs: number;
}

/** Where an outgoing message is in its QoS flow [MQTT-4.3]. */
export const Phase = {
  /** Queued: not sent yet, no packet id. */
  Queued: 0,
  /** Sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2): resent with DUP. */
  Sent: 1,
  /** QoS 2 after PUBREC, waiting for PUBCOMP: PUBREL is resent. The message is gone. */
  Pubrel: 2,
} as const;
export type PhaseValue = typeof Phase[keyof typeof Phase];

/** A ban, EMQX's fields (`as` ∈ clientid, username, peerhost, clientid_re, username_re, peerhost_net). */
export interface BanRecord {
  readonly as: string;
  readonly who: string;
  readonly by: string;
  readonly reason: string;
  /** Epoch ms. */
  readonly at: number;
  /** Epoch ms; null = infinity. */
  readonly until: number | null;
}

/** A user of the built-in database, keyed by (userIdType, userId). */
export interface UserRecord {
  readonly userIdType: "username" | "clientid";
  readonly userId: string;
  /** The hash as the authenticator stores it (e.g. hex, or a PHC / bcrypt string). */
  readonly passwordHash: string;
  readonly salt: string;
  readonly isSuperuser: boolean;
}

/** One rule of the built-in ACL database, as EMQX's REST body writes it. */
export interface AclRule {
  readonly topic: string;
  readonly permission: "allow" | "deny";
  readonly action: "publish" | "subscribe" | "all";
  readonly qos?: readonly number[];
  readonly retain?: boolean | "all";
}

/** Whose rules: a username, a client id, or everyone ("all", with who ""). */
export type AclWhoType = "username" | "clientid" | "all";

/** The rules of one principal, in order. */
export interface AclRuleSet {
  readonly whoType: AclWhoType;
  readonly who: string;
  readonly rules: readonly AclRule[];
}

/**
 * One write. Names are short snake_case verbs on the table they touch. Ops that delete or
 * update in place "release" space (isReleasingOp); the others grow the file and are the ones a
 * full store refuses.
 */
export type StoreOp =
  | { readonly op: "session"; readonly session: SessionRow }
  | {
    readonly op: "session_state";
    readonly sid: number;
    readonly connected: boolean;
    readonly disconnectedAt: number;
    readonly expiryMs: number;
  }
  | { readonly op: "session_delete"; readonly sid: number }
  | {
    readonly op: "sub";
    readonly sid: number;
    readonly filter: string;
    readonly opts: SubOptionsRecord;
  }
  | { readonly op: "unsub"; readonly sid: number; readonly filter: string }
  | {
    readonly op: "out";
    readonly sid: number;
    /** Per-session sequence, chosen by the caller: strictly increasing within the session. */
    readonly seq: number;
    readonly qos: 0 | 1 | 2;
    readonly retain: boolean;
    /** Packet id when sent at once (phase Sent), 0 when queued. */
    readonly packetId: number;
    /** Absent: none. */
    readonly subIds?: readonly number[];
    /** The shared subscription it came through ("$share/g/f"); absent: none. */
    readonly shared?: string;
    /** Index in the batch's msgs. */
    readonly msg: number;
  }
  /** `seq` (through `to`, with packet ids packetId + (s - seq), when given) entered the window. */
  | {
    readonly op: "out_sent";
    readonly sid: number;
    readonly seq: number;
    readonly packetId: number;
    readonly to?: number;
  }
  | { readonly op: "out_pubrel"; readonly sid: number; readonly seq: number }
  /** `seq` (through `to` when given) is done. */
  | { readonly op: "out_delete"; readonly sid: number; readonly seq: number; readonly to?: number }
  /** The oldest queued (phase 0) row after `after`: mqueue_drop_policy drop_oldest. */
  | { readonly op: "out_drop_oldest"; readonly sid: number; readonly after: number }
  | { readonly op: "rel"; readonly sid: number; readonly packetId: number; readonly at: number }
  | { readonly op: "rel_delete"; readonly sid: number; readonly packetId: number }
  | {
    readonly op: "retain";
    readonly topic: string;
    readonly partition: number;
    /** Epoch ms; 0 = never expires. */
    readonly expiresAt: number;
    readonly msg: number;
    /** A peer's write published at this time (epoch ms): skipped when the row was published later. */
    readonly unlessNewer?: number;
  }
  | {
    readonly op: "retain_delete";
    readonly topic: string;
    /** A peer's clear published at this time (epoch ms): skipped when the row was published later. */
    readonly unlessNewer?: number;
    /**
     * The clear's publish time (epoch ms): remembered by the store for a while (_retain_clears.ts)
     * so that a peer's write not newer than it, committed later, is skipped as a newer row would
     * make it (unlessNewer).
     */
    readonly clearedAt?: number;
  }
  | { readonly op: "delay"; readonly id: number; readonly dueAt: number; readonly msg: number }
  | { readonly op: "delay_delete"; readonly id: number }
  | { readonly op: "ban"; readonly ban: BanRecord }
  | { readonly op: "ban_delete"; readonly as: string; readonly who: string }
  | { readonly op: "user"; readonly user: UserRecord }
  | { readonly op: "user_delete"; readonly userIdType: string; readonly userId: string }
  | {
    readonly op: "acl";
    readonly whoType: AclWhoType;
    readonly who: string;
    readonly rules: readonly AclRule[];
  }
  | { readonly op: "acl_delete"; readonly whoType: AclWhoType; readonly who: string };

/** What one commit carries: encoded messages and the operations, applied in order, atomically. */
export interface WireBatch {
  readonly msgs: readonly Uint8Array[];
  readonly ops: readonly StoreOp[];
}

const RELEASING = new Set<StoreOp["op"]>([
  "session_state",
  "session_delete",
  "unsub",
  "out_sent",
  "out_pubrel",
  "out_delete",
  "rel_delete",
  "retain_delete",
  "delay_delete",
  "ban_delete",
  "user_delete",
  "acl_delete",
]);

/**
 * True for ops that delete or update in place: a full store still applies them, so that
 * acknowledgements and clean-ups are never lost to a full disk.
 *
 * @example
 * ```ts
 * import { isReleasingOp } from "./types.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isReleasingOp({ op: "out_delete", sid: 1, seq: 1 }));
 * ```
 */
export function isReleasingOp(op: StoreOp): boolean {
  return RELEASING.has(op.op);
}

/** Result of a commit that went through. */
export interface ApplyResult {
  /** `retain` ops for new topics skipped because retainer.backend.max_retained_messages was reached. */
  readonly retainRefused: number;
  /**
   * The messages (encodeMessage() bytes) of the rows the batch's `out_drop_oldest` ops deleted,
   * in op order (null: there was no such row); absent when the batch had none.
   */
  readonly dropped?: readonly (Uint8Array | null)[];
}
