/**
 * ShardLink: the supervisor's end of the two rings to one shard. Encodes supervisor → shard
 * records, drains shard → supervisor records, and pauses reading on every connection of the shard
 * while the shard cannot take input (its ring is full or it sent InputPause). Private to
 * src/supervisor/. Owns the ring writer and reader of one shard and its set of connections; it
 * never touches sockets except through Connection.
 */

import { getLogger } from "@logtape/logtape";
import { writeU32LE } from "../bytes.ts";
import {
  FieldWriter,
  maxWholePayload,
  RecordKind,
  RingReader,
  RingWriter,
  type ShardRings,
} from "../ipc/mod.ts";
import { type Connection, PauseReason } from "./connection.ts";

const log = getLogger(["culex", "supervisor"]);

/** Largest ConnInbound piece on big rings (a node:net read is at most 64 KiB anyway). */
const MAX_INBOUND_CHUNK = 64 * 1024;
/** ConnInbound fields before the bytes: connId u32, byte length u32. */
const INBOUND_HEADER = 8;

/** Supervisor side of one shard's rings. */
export class ShardLink {
  readonly index: number;
  /** Open connections owned by this shard. */
  readonly connections = new Set<Connection>();
  #writer: RingWriter;
  #reader: RingReader;
  #fields = new FieldWriter(64);
  #inboundHeader = new Uint8Array(8);
  /**
   * Largest ConnInbound piece: one whole ring record (a quarter ring), so one read never fills a
   * ring by itself and the shard never reassembles a read (its parser takes any pieces).
   */
  #maxChunk: number;
  #ringFull = false;
  #inputPaused = false;
  /** A cluster link's send queue is over cluster.max_send_queue. */
  #clusterPaused = false;
  #paused = false;

  constructor(index: number, rings: ShardRings) {
    this.index = index;
    this.#writer = new RingWriter(rings.fromSupervisor, rings.doorbell);
    this.#reader = new RingReader(rings.toSupervisor);
    this.#maxChunk = Math.min(
      MAX_INBOUND_CHUNK,
      maxWholePayload(rings.fromSupervisor.capacity) - INBOUND_HEADER,
    );
    this.#writer.onCongestion = (on) => {
      this.#ringFull = on;
      this.#update();
    };
  }

  /** True while reads from this shard's sockets are paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Places `conn` on this shard: ConnOpen, then the bytes read so far. */
  open(conn: Connection, assignedClientId: string, firstBytes: Uint8Array): void {
    conn.shard = this.index;
    this.connections.add(conn);
    if (this.#paused) conn.pause(PauseReason.Shard);
    // Field order: docs/contracts.md (ConnOpen, record format 2).
    const t = conn.transport;
    const { zone, enableAuthn } = conn.origin;
    const authn = enableAuthn === true ? 1 : enableAuthn === false ? 0 : 2;
    const payload = this.#fields.u32(conn.id).str(conn.listener).str(conn.peer)
      .str(assignedClientId).str(zone).u8(authn).str(t?.certCommonName ?? "")
      .str(t?.certSubject ?? "").str(t?.usernameOverride ?? "").str(t?.clientIdOverride ?? "")
      .str(t?.cookie ?? "").finish();
    this.#writer.write(RecordKind.ConnOpen, payload);
    this.inbound(conn, firstBytes);
  }

  /**
   * ConnInbound: bytes read from the socket (copied into the ring; the chunk is not kept). A
   * socket read can be larger than a quarter ring (64 KiB reads, 4 KiB rings), so big reads go as
   * several records: the shard's parser takes the byte stream in any pieces.
   */
  inbound(conn: Connection, bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; at += this.#maxChunk) {
      const piece = bytes.subarray(at, at + this.#maxChunk);
      // The writer copies the parts before write() returns, so one header buffer serves all.
      writeU32LE(this.#inboundHeader, 0, conn.id);
      writeU32LE(this.#inboundHeader, 4, piece.length);
      this.#writer.write(RecordKind.ConnInbound, [this.#inboundHeader, piece]);
    }
  }

  /** ConnClosed: the socket is gone; the connection leaves this shard. */
  closed(conn: Connection, reason: string): void {
    if (!this.connections.delete(conn)) return;
    this.#writer.write(RecordKind.ConnClosed, this.#fields.u32(conn.id).str(reason).finish());
  }

  /** ConnCongested: the socket's pending output crossed its high watermark (or cleared it). */
  congested(conn: Connection, on: boolean): void {
    if (!this.connections.has(conn)) return;
    this.#writer.write(RecordKind.ConnCongested, this.#fields.u32(conn.id).u8(on ? 1 : 0).finish());
  }

  /** Any record to this shard (the cluster's records, built by src/cluster/). */
  write(kind: number, parts: readonly Uint8Array[]): void {
    this.#writer.write(kind, parts);
  }

  /** A cluster link is over its send queue (true) or drained (false): stop reading clients. */
  setClusterPause(on: boolean): void {
    this.#clusterPaused = on;
    this.#update();
  }

  /** Request: a control request to this shard (ShardRpc). */
  request(id: number, method: string, params: string): void {
    this.#writer.write(RecordKind.Request, this.#fields.u32(id).str(method).str(params).finish());
  }

  /** ConnPause from the shard: stop (true) or resume (false) reading one of its connections. */
  setConnPause(conn: Connection, on: boolean): void {
    if (!this.connections.has(conn)) return;
    log.debug("Connection {peer} reading {state} by its channel", {
      peer: conn.peer,
      state: on ? "paused" : "resumed",
    });
    if (on) conn.pause(PauseReason.Channel);
    else conn.resume(PauseReason.Channel);
  }

  /** InputPause from the shard: its peer rings are full (true) or drained (false). */
  setInputPause(on: boolean): void {
    this.#inputPaused = on;
    this.#update();
  }

  /** Reads up to `max` shard → supervisor records. */
  drain(
    onRecord: (link: ShardLink, kind: number, payload: Uint8Array) => void,
    max: number,
  ): number {
    return this.#reader.drain((kind, payload) => onRecord(this, kind, payload), max);
  }

  /** Publishes written records now (also done in a microtask by the writer). */
  flush(): void {
    this.#writer.flush();
  }

  /** Stops writing to these rings (the shard died or the node stops); drops parked records. */
  close(): void {
    this.#writer.onCongestion = null;
    this.#writer.close();
  }

  /** The shard was restarted with new rings: closes this link; its connections die with it. */
  retire(): void {
    this.close();
    const orphans = [...this.connections];
    this.connections.clear();
    if (orphans.length > 0) {
      log.warning("Closing {count} connections of restarted shard {index}", {
        count: orphans.length,
        index: this.index,
      });
    }
    for (const conn of orphans) conn.destroy();
  }

  #update(): void {
    const paused = this.#ringFull || this.#inputPaused || this.#clusterPaused;
    if (paused === this.#paused) return;
    this.#paused = paused;
    log.debug("Shard {index} input {state} (ring full: {ringFull}, InputPause: {inputPaused})", {
      index: this.index,
      state: paused ? "paused" : "resumed",
      ringFull: this.#ringFull,
      inputPaused: this.#inputPaused,
    });
    for (const conn of this.connections) {
      if (paused) conn.pause(PauseReason.Shard);
      else conn.resume(PauseReason.Shard);
    }
  }
}
