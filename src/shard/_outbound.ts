/**
 * OutboundBatcher: gathers the packets a shard writes to each connection during one synchronous
 * run and emits them as one ConnOutbound record per connection (in a microtask, or earlier when a
 * connection's batch is large or it is about to close). One record instead of one per packet
 * means fewer ring records, and one socket write per connection and batch in the supervisor.
 * A record is at most one whole ring record (a quarter ring): the connection's byte stream is cut
 * into several records when a batch or a packet (a 64 MB PUBLISH) is larger, like the
 * supervisor cuts socket reads. The supervisor then writes each piece as it arrives instead of
 * waiting for the whole packet, and never has to reassemble one.
 *
 * Packets may also be written straight into the batcher (`space()`): it hands out views of a
 * shared arena, and a connection's consecutive packets in one arena go to the ring as one part.
 * A retained page of 5,000 PUBLISH packets then costs a few arena buffers instead of 5,000
 * buffers of their own (each a backing store for the garbage collector to sweep) and one
 * ring copy per run instead of one per packet. An arena byte is never handed out twice: the
 * ring writer may keep a part of 64 KiB or more by reference while it is parked (ring.ts), so a
 * full arena is left to the collector and a new one started. Private to src/shard/.
 */

import { maxWholePayload } from "../ipc/mod.ts";

/** ConnOutbound fields before the bytes: connId u32, byte length u32. */
const OUTBOUND_HEADER = 8;

/** Largest ConnOutbound record for rings of `ringSize` bytes: one whole ring record. */
export function outboundBatchLimit(ringSize: number): number {
  return maxWholePayload(ringSize) - OUTBOUND_HEADER;
}

/** Emits one ConnOutbound record: the header and the packets, in order. */
export type EmitOutbound = (connId: number, parts: Uint8Array[], bytes: number) => void;

/** Arena size: a quarter of the default batch limit (4 MiB rings), a few hundred packets. */
const ARENA_BYTES = 256 * 1024;
/** Packets larger than this get a buffer of their own (an arena would waste its tail). */
const ARENA_MAX_PACKET = 16 * 1024;

interface Pending {
  parts: Uint8Array[];
  bytes: number;
  /** The open run of consecutive arena bytes (not yet in parts): arena, start, end. */
  run: Uint8Array | null;
  runStart: number;
  runEnd: number;
}

/** Per-connection output of one shard; see the file header. */
export class OutboundBatcher {
  // A fresh Map per pass instead of clear(): a cleared long-lived Map keeps its dropped hash table
  // (and through it this pass's packets) linked to the next one, and once one of them reaches
  // V8's old generation every later batch survives young-generation collections (see ShardMatch).
  #pending = new Map<number, Pending>();
  readonly #emit: EmitOutbound;
  readonly #maxBatch: number;
  #scheduled = false;

  /**
   * `maxBatch`: bytes after which a connection's batch goes out, and the most one record carries
   * (see outboundBatchLimit); a larger packet is cut into several records.
   */
  constructor(emit: EmitOutbound, maxBatch: number) {
    this.#emit = emit;
    this.#maxBatch = maxBatch;
  }

  #arena = new Uint8Array(ARENA_BYTES);
  #arenaUsed = 0;

  /** Queues `bytes` (kept by reference until emitted: the caller must not change them). */
  add(connId: number, bytes: Uint8Array): void {
    const p = this.#pendingFor(connId, bytes.length);
    closeRun(p);
    p.parts.push(bytes);
    p.bytes += bytes.length;
  }

  /**
   * Queues `size` bytes that the caller writes into the returned view before it yields (the
   * view's bytes are emitted as they are then). Same order as add(): after everything queued
   * before for this connection.
   */
  space(connId: number, size: number): Uint8Array {
    if (size > ARENA_MAX_PACKET) {
      const own = new Uint8Array(size);
      this.add(connId, own);
      return own;
    }
    const p = this.#pendingFor(connId, size);
    if (this.#arenaUsed + size > this.#arena.length) {
      this.#arena = new Uint8Array(ARENA_BYTES);
      this.#arenaUsed = 0;
    }
    const arena = this.#arena;
    const at = this.#arenaUsed;
    this.#arenaUsed = at + size;
    if (p.run !== arena || p.runEnd !== at) {
      closeRun(p);
      p.run = arena;
      p.runStart = at;
    }
    p.runEnd = at + size;
    p.bytes += size;
    return arena.subarray(at, at + size);
  }

  /** The connection's batch with room for `size` more bytes (the full one goes out first). */
  #pendingFor(connId: number, size: number): Pending {
    let p = this.#pending.get(connId);
    if (p && p.bytes + size > this.#maxBatch) {
      this.flushConnection(connId);
      p = undefined;
    }
    if (!p) {
      p = { parts: [], bytes: 0, run: null, runStart: 0, runEnd: 0 };
      this.#pending.set(connId, p);
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return p;
  }

  /** Emits one connection's batch now (before its close record, for one). */
  flushConnection(connId: number): void {
    const p = this.#pending.get(connId);
    if (!p) return;
    this.#pending.delete(connId);
    this.#emitCut(connId, p);
  }

  /** Emits every batch. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [connId, p] of pending) this.#emitCut(connId, p);
  }

  /** Emits a batch as records of at most maxBatch bytes, cut with views (no copy). */
  #emitCut(connId: number, p: Pending): void {
    closeRun(p);
    const max = this.#maxBatch;
    if (p.bytes <= max) {
      this.#emit(connId, p.parts, p.bytes);
      return;
    }
    let chunk: Uint8Array[] = [];
    let n = 0;
    for (const part of p.parts) {
      for (let at = 0; at < part.length;) {
        const take = Math.min(part.length - at, max - n);
        chunk.push(take === part.length ? part : part.subarray(at, at + take));
        n += take;
        at += take;
        if (n === max) {
          this.#emit(connId, chunk, n);
          chunk = [];
          n = 0;
        }
      }
    }
    if (n > 0) this.#emit(connId, chunk, n);
  }
}

/** Moves the open arena run of `p` into its parts. */
function closeRun(p: Pending): void {
  if (p.run === null) return;
  p.parts.push(p.run.subarray(p.runStart, p.runEnd));
  p.run = null;
}
