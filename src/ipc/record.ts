/**
 * Ring record format: the kinds table, the format version and the little-endian field codec used
 * to build and read record payloads. Owns only byte layout; it knows nothing about MQTT, rings or
 * isolates, and must not touch SharedArrayBuffer or Atomics (ring.ts does).
 *
 * A record on a ring is `[u32 LE payload length][u8 kind][payload]`. A released kind or field order
 * is never edited: a change bumps RECORD_FORMAT_VERSION and adds a kind. Version 2 added the
 * ring's own kinds: Fragment pieces of a record larger than a quarter ring (src/ipc/_fragments.ts)
 * and Pad records that align large payloads (src/ipc/_align.ts).
 */

import { readF64LE, readU16LE, readU32LE } from "../bytes.ts";

/** Version of the record format below; bump it (and add kinds) rather than edit a released one. */
export const RECORD_FORMAT_VERSION = 2;

/** Bytes before the payload of every record: u32 length + u8 kind. */
export const RECORD_HEADER_BYTES = 5;

/**
 * Record kinds. 1–9 supervisor → shard, 10–19 shard → supervisor, 20+ shard → shard.
 * Field order of each payload is fixed in docs/contracts.md.
 */
export const RecordKind = {
  ConnOpen: 1,
  ConnInbound: 2,
  ConnClosed: 3,
  ConnCongested: 4,
  /** A control request to a shard: request id, method, JSON parameters. */
  Request: 5,
  ConnOutbound: 10,
  ConnClose: 11,
  InputPause: 12,
  /** Stop or resume reading one connection (its channel holds too many packets). */
  ConnPause: 13,
  /** The answer to a Request: request id, ok/error, JSON body or error text. */
  Reply: 14,
  /** Something the supervisor must spread to the node (JSON; e.g. a ban decided by flapping). */
  Event: 15,
  RouteAdd: 20,
  RouteRemove: 21,
  RoutedPublish: 22,
  RetainStore: 23,
  RetainQuery: 24,
  RetainAnswer: 25,
  /** A client of the sending shard joined a shared subscription group (broadcast). */
  SharedJoin: 27,
  /** ... and left it (broadcast). */
  SharedLeave: 28,
  /** A message picked for one group member, sent to the member's shard. */
  SharedDeliver: 29,
  // Cluster records (issue 15; payloads in cluster_records.ts). Shard → supervisor:
  /** op u8 (1 add, 0 remove), filter: this shard's first/last subscriber of a filter. */
  ClusterRoute: 40,
  /** op u8, group, filter, client id, subscription: a shared member of this shard. */
  ClusterShared: 41,
  /** node, topic, message bytes: one message for node's subscribers (once per node). */
  NodeForward: 42,
  /** node, client id, subscription, hops u8, message bytes: one shared member's message. */
  NodeShared: 43,
  /** topic, message bytes: a retained write to replicate to every node. */
  ClusterRetain: 44,
  /** client id: a client connected here (after authentication); other nodes end theirs. */
  ClusterClientOpen: 52,
  /** request id u32, client id: ask the other nodes for the client's session (takeover). */
  ClusterTakeover: 53,
  /**
   * Supervisor → shard: request id u32, body str (the moved session or the pendings as JSON, ""
   * for none), from str (the node that answered; "" for END's answer).
   */
  TakeoverAnswer: 54,
  /** request id u32, node str, client id: TAKEOVER_END to the node that sent the session. */
  ClusterTakeoverEnd: 55,
  /**
   * op u8 (1 this shard now holds a session of the client id, 0 it holds none any more), client
   * id: the node's client registry entries (src/cluster/registry.ts).
   */
  ClusterSession: 56,
  // Supervisor → shard:
  /** op u8, node, filter: a route of another node. */
  NodeRoute: 45,
  /** op u8, node, group, filter, client id, subscription: a member on another node. */
  NodeMember: 46,
  /** node: forget every route and member of that node. */
  NodeReset: 47,
  /** message (encoded Message): from another node; dispatch here, never forward again. */
  RemotePublish: 48,
  /** client id, subscription, hops u8, message bytes: a shared delivery from another node. */
  RemoteShared: 49,
  /** message (encoded Message): a retained write made on another node. */
  RemoteRetain: 50,
  /** client id: the client connected on another node; end it here (0x8E). */
  RemoteClientOpen: 51,
  /**
   * Durable mode: a RoutedPublish of a QoS 1/2 client publish with its store commit token
   * (str key, u32 parts, then the message): the destination commits its part under that token.
   */
  RoutedPublishToken: 31,
  /**
   * Durable mode: a SharedDeliver of a QoS 1/2 client publish with its store commit token (str
   * key, u32 parts, then the SharedDeliver fields): the member's shard commits under that token.
   */
  SharedDeliverToken: 32,
  /** Filler that aligns the next record's payload (never delivered). Ring-internal. */
  Pad: 253,
  /** First piece of a record too big for one: u8 kind, u32 total length, bytes. Ring-internal. */
  Fragment: 254,
  /** Next piece of that record: bytes. Ring-internal: readers deliver the whole record only. */
  FragmentMore: 255,
} as const;

/** One of the values of {@linkcode RecordKind}. */
export type RecordKindValue = (typeof RecordKind)[keyof typeof RecordKind];

const kindNames = new Map<number, string>(
  Object.entries(RecordKind).map(([name, kind]) => [kind, name]),
);

/**
 * Name of a record kind for logs, or `"Unknown(<n>)"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(recordKindName(RecordKind.ConnOpen), "ConnOpen");
 * assert.equal(recordKindName(250), "Unknown(250)");
 * ```
 */
export function recordKindName(kind: number): string {
  return kindNames.get(kind) ?? `Unknown(${kind})`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Builds a record payload field by field (little endian). Reusable: `finish()` returns a copy of
 * the bytes written so far and empties the writer, so one writer per hot path avoids allocating a
 * buffer per record. Methods return `this` for chaining.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const w = new FieldWriter();
 * const payload = w.u32(7).str("tcp:default").finish();
 * const r = new FieldReader(payload);
 * assert.equal(r.u32(), 7);
 * assert.equal(r.str(), "tcp:default");
 * ```
 */
export class FieldWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  /** @param initialSize starting buffer size in bytes; it doubles as needed. */
  constructor(initialSize = 256) {
    this.#buf = new Uint8Array(Math.max(16, initialSize));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written since the last finish() or reset(). */
  get length(): number {
    return this.#pos;
  }

  /** Appends an unsigned 8-bit integer. */
  u8(n: number): this {
    this.#reserve(1);
    this.#buf[this.#pos++] = n;
    return this;
  }

  /** Appends an unsigned 16-bit integer. */
  u16(n: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#pos, n, true);
    this.#pos += 2;
    return this;
  }

  /** Appends an unsigned 32-bit integer. */
  u32(n: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#pos, n, true);
    this.#pos += 4;
    return this;
  }

  /** Appends a 64-bit float (also used for integers beyond 32 bits, e.g. timestamps). */
  f64(n: number): this {
    this.#reserve(8);
    this.#view.setFloat64(this.#pos, n, true);
    this.#pos += 8;
    return this;
  }

  /** Appends a string as u32 byte length + UTF-8. */
  str(s: string): this {
    if (s === "") return this.u32(0); // most of ConnOpen's fields: no encoder call
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.#reserve(4 + s.length * 3);
    const { written } = encoder.encodeInto(s, this.#buf.subarray(this.#pos + 4));
    this.#view.setUint32(this.#pos, written, true);
    this.#pos += 4 + written;
    return this;
  }

  /** Appends bytes as u32 length + bytes. */
  bytes(b: Uint8Array): this {
    this.#reserve(4 + b.length);
    this.#view.setUint32(this.#pos, b.length, true);
    this.#buf.set(b, this.#pos + 4);
    this.#pos += 4 + b.length;
    return this;
  }

  /** Returns a copy of the bytes written and empties the writer for the next payload. */
  finish(): Uint8Array {
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }

  /** Discards what was written. */
  reset(): void {
    this.#pos = 0;
  }

  #reserve(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/**
 * Reads the fields of a record payload in the order they were written. A read past the end
 * throws SyntaxError (a truncated or mis-typed record). `bytes()` returns a view, not a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r = new FieldReader(new FieldWriter().u8(1).bytes(new Uint8Array([9])).finish());
 * assert.equal(r.u8(), 1);
 * assert.deepEqual([...r.bytes()], [9]);
 * assert.throws(() => r.u8(), SyntaxError); // past the end
 * ```
 */
export class FieldReader {
  #buf: Uint8Array;
  #pos = 0;

  /**
   * @param b the payload; kept by reference. Integers are read byte by byte rather than through
   * a DataView: `b.buffer` of a small typed array (V8 keeps up to 64 bytes inside the object)
   * would move its bytes to a malloc'd store, one malloc and free per record.
   */
  constructor(b: Uint8Array) {
    this.#buf = b;
  }

  /** Read position in bytes. */
  get offset(): number {
    return this.#pos;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Reads an unsigned 8-bit integer. */
  u8(): number {
    this.#need(1, "u8");
    return this.#buf[this.#pos++] as number;
  }

  /** Reads an unsigned 16-bit integer. */
  u16(): number {
    this.#need(2, "u16");
    const v = readU16LE(this.#buf, this.#pos);
    this.#pos += 2;
    return v;
  }

  /** Reads an unsigned 32-bit integer. */
  u32(): number {
    this.#need(4, "u32");
    const v = readU32LE(this.#buf, this.#pos);
    this.#pos += 4;
    return v;
  }

  /** Reads a 64-bit float. */
  f64(): number {
    this.#need(8, "f64");
    const v = readF64LE(this.#buf, this.#pos);
    this.#pos += 8;
    return v;
  }

  /** Reads a u32-length-prefixed UTF-8 string. */
  str(): string {
    const bytes = this.#slice("str");
    return bytes.length === 0 ? "" : decoder.decode(bytes);
  }

  /** Reads u32-length-prefixed bytes as a subarray view of the payload (no copy). */
  bytes(): Uint8Array {
    return this.#slice("bytes");
  }

  #slice(what: string): Uint8Array {
    const len = this.u32();
    this.#need(len, what);
    const out = this.#buf.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return out;
  }

  #need(n: number, what: string): void {
    if (this.#pos + n > this.#buf.length) {
      throw new SyntaxError(
        `Cannot read ${what} of ${n} bytes at offset ${this.#pos}: ` +
          `record has ${this.#buf.length} bytes`,
      );
    }
  }
}
