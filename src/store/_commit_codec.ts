/**
 * The commit request's compact form between a shard and the store worker: the per-message ops
 * (`out`, `out_sent`, `out_delete`), the messages and the tokens of every part go into one
 * buffer that is transferred, not cloned; other ops (sessions, subscriptions, retained, bans ...)
 * travel beside it as objects, in order. Why: in durable fan-in QoS 1 the structured clone of a
 * pass's parts (an object per part, token, batch, op and message) was about a third of the
 * subscriber's shard's durable cost and the store worker's deserialize another 4 µs per message
 * (bench/README.md, "Durable sessions"). Private to src/store/ (client.ts, worker_host.ts).
 */

import type { CommitPart, CommitToken, PackedCommit } from "./protocol.ts";
import type { StoreOp, WireBatch } from "./types.ts";

const COLD = 0, OUT = 1, SENT = 2, DELETE = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A growable little-endian writer. */
class Writer {
  buf = new Uint8Array(4096);
  view = new DataView(this.buf.buffer);
  at = 0;

  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.at, v, true);
    this.at += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
}

/** A part as the worker gets it: merged parts carry every token of the parts merged. */
export interface WirePart {
  readonly batch: WireBatch;
  readonly tokens: readonly CommitToken[];
}

/** A packed request and, per wire part, how many of the caller's parts it holds. */
export interface EncodedCommit {
  readonly packed: PackedCommit;
  readonly spans: readonly number[];
}

/**
 * True when a part holds only hot ops (`out` without subscription ids or a shared group,
 * `out_sent`, `out_delete`): its result can only be `{ retainRefused: 0 }` or a refusal, so it
 * may share one result with its neighbours.
 */
function hotOnly(batch: WireBatch): boolean {
  for (const o of batch.ops) {
    if (o.op === "out") {
      if (o.subIds !== undefined || o.shared !== undefined) return false;
    } else if (o.op !== "out_sent" && o.op !== "out_delete") return false;
  }
  return true;
}

/** Growing: a full store refuses the part (release_only keeps parts of deletes and updates). */
function growing(batch: WireBatch): boolean {
  for (const o of batch.ops) if (o.op === "out") return true;
  return false;
}

/**
 * Packs `parts`. Consecutive parts of hot ops only that a full store would treat alike (all
 * growing or none) travel as ONE part carrying all their tokens: in durable fan-in every routed
 * publish is a part of its own on both shards (one `out`, or none on the publishing shard), and
 * the worker's cost per part (its token group, its result) was a tenth of its time. Their
 * one result is each one's: every part of a group commit is in one transaction anyway, and
 * the merged part commits once all its tokens' parts came. `spans[i]` is how many of `parts`
 * wire part i holds, in order (StoreClient expands the results with it).
 *
 * @example
 * ```ts
 * import { decodeCommit, encodeCommit } from "./_commit_codec.ts";
 * import assert from "node:assert/strict";
 * const parts = [{
 *   batch: { msgs: [new Uint8Array([1, 2])], ops: [{ op: "out_delete" as const, sid: 5, seq: 1, to: 3 }] },
 *   token: { key: "0:1", parts: 2 },
 * }];
 * const { packed, spans } = encodeCommit(parts);
 * assert.deepEqual(spans, [1]);
 * assert.deepEqual(decodeCommit(packed), [{ batch: parts[0]!.batch, tokens: [parts[0]!.token] }]);
 * ```
 */
export function encodeCommit(parts: readonly CommitPart[]): EncodedCommit {
  const w = new Writer();
  const cold: StoreOp[] = [];
  const spans: number[] = [];
  w.u32(0); // wire parts, patched at the end
  /** Where the open wire part's count of sub-parts is, and whether others may join it. */
  let subsAt = -1, mergeable = false, grows = false;
  for (const part of parts) {
    const hot = hotOnly(part.batch);
    const g = hot && growing(part.batch);
    if (subsAt >= 0 && mergeable && hot && g === grows) {
      spans[spans.length - 1]!++;
    } else {
      spans.push(1);
      subsAt = w.at;
      w.u32(0);
      mergeable = hot;
      grows = g;
    }
    w.view.setUint32(subsAt, w.view.getUint32(subsAt, true) + 1, true);
    const tokens = part.tokens ?? (part.token ? [part.token] : []);
    w.u32(tokens.length);
    for (const t of tokens) {
      w.u32(t.parts);
      w.bytes(encoder.encode(t.key));
    }
    const { msgs, ops } = part.batch;
    w.u32(msgs.length);
    for (const m of msgs) w.bytes(m);
    w.u32(ops.length);
    for (const o of ops) {
      if (o.op === "out" && o.subIds === undefined && o.shared === undefined) {
        w.u8(OUT);
        w.f64(o.sid);
        w.f64(o.seq);
        w.u8(o.qos);
        w.u8(o.retain ? 1 : 0);
        w.u16(o.packetId);
        w.u32(o.msg);
      } else if (o.op === "out_sent") {
        w.u8(SENT);
        w.f64(o.sid);
        w.f64(o.seq);
        w.u16(o.packetId);
        w.f64(o.to ?? o.seq);
      } else if (o.op === "out_delete") {
        w.u8(DELETE);
        w.f64(o.sid);
        w.f64(o.seq);
        w.f64(o.to ?? o.seq);
      } else {
        w.u8(COLD);
        w.u32(cold.push(o) - 1);
      }
    }
  }
  w.view.setUint32(0, spans.length, true);
  return { packed: { buf: w.buf.subarray(0, w.at), cold }, spans };
}

/**
 * Unpacks what encodeCommit packed, one WirePart per wire part (merged parts joined: their
 * messages in order, each op's `msg` shifted past the messages of the parts before it).
 * Messages are views into `p.buf`.
 */
export function decodeCommit(p: PackedCommit): WirePart[] {
  const buf = p.buf;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const u8 = () => buf[at++]!;
  const u16 = () => (at += 2, view.getUint16(at - 2, true));
  const u32 = () => (at += 4, view.getUint32(at - 4, true));
  const f64 = () => (at += 8, view.getFloat64(at - 8, true));
  const bytes = () => {
    const n = u32();
    at += n;
    return buf.subarray(at - n, at);
  };
  const parts: WirePart[] = [];
  for (let i = u32(); i > 0; i--) {
    const tokens: CommitToken[] = [];
    const msgs: Uint8Array[] = [];
    const ops: StoreOp[] = [];
    for (let sub = u32(); sub > 0; sub--) {
      for (let t = u32(); t > 0; t--) {
        const n = u32();
        tokens.push({ key: decoder.decode(bytes()), parts: n });
      }
      const base = msgs.length;
      for (let n = u32(); n > 0; n--) msgs.push(bytes());
      for (let n = u32(); n > 0; n--) {
        const kind = u8();
        if (kind === OUT) {
          const sid = f64(), seq = f64(), qos = u8() as 0 | 1 | 2, retain = u8() === 1;
          ops.push({ op: "out", sid, seq, qos, retain, packetId: u16(), msg: base + u32() });
        } else if (kind === SENT) {
          const sid = f64(), seq = f64(), packetId = u16(), to = f64();
          ops.push(
            to > seq
              ? { op: "out_sent", sid, seq, packetId, to }
              : { op: "out_sent", sid, seq, packetId },
          );
        } else if (kind === DELETE) {
          const sid = f64(), seq = f64(), to = f64();
          ops.push(to > seq ? { op: "out_delete", sid, seq, to } : { op: "out_delete", sid, seq });
        } else ops.push(p.cold[u32()]!);
      }
    }
    parts.push({ batch: { msgs, ops }, tokens });
  }
  return parts;
}
