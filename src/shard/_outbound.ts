/**
 * OutboundBatcher: gathers the packets a shard writes to each connection during one synchronous
 * run and emits them as one ConnOutbound record per connection (in a microtask, or earlier when a
 * connection's batch is large or it is about to close). One record instead of one per packet
 * means fewer ring records, and one socket write per connection and batch in the supervisor.
 * Private to src/shard/.
 */

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

  /** `maxBatch`: bytes after which a connection's batch goes out at once (fits any ring). */
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
    this.#emit(connId, p.parts, p.bytes);
  }

  /** Emits every batch. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [connId, p] of pending) this.#emit(connId, p.parts, p.bytes);
  }
}
