/**
 * OutboundBatcher: gathers the packets a shard writes to each connection during one synchronous
 * run and emits them as one ConnOutbound record per connection (in a microtask, or earlier when a
 * connection's batch is large or it is about to close). One record instead of one per packet
 * means fewer ring records, and one socket write per connection and batch in the supervisor.
 * A record is at most one whole ring record (a quarter ring): the connection's byte stream is cut
 * into several records when a batch or a packet (a 64 MB PUBLISH) is larger, like the
 * supervisor cuts socket reads. The supervisor then writes each piece as it arrives instead of
 * waiting for the whole packet, and never has to reassemble one. Private to src/shard/.
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

interface Pending {
  parts: Uint8Array[];
  bytes: number;
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

  add(connId: number, bytes: Uint8Array): void {
    let p = this.#pending.get(connId);
    if (p && p.bytes + bytes.length > this.#maxBatch) {
      this.flushConnection(connId);
      p = undefined;
    }
    if (!p) {
      p = { parts: [], bytes: 0 };
      this.#pending.set(connId, p);
    }
    p.parts.push(bytes);
    p.bytes += bytes.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
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
