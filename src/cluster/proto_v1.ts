/**
 * The node-link protocol, version 1: frames, the handshake's proof and the frame types. Frozen
 * once released: a change is proto_v2.ts with negotiation in HELLO. Pure: no sockets, no timers.
 *
 * A frame is `[u32 LE length of type + payload][u8 type][payload]`; payloads are FieldWriter
 * fields (src/ipc/record.ts) and messages the binary Message format of src/mqtt/message.ts.
 * Frame types 33-51 and 60-63 were added before the first release (an unknown type closes the
 * link, so nodes of one cluster run the same build). The registry frames (60-63) begin with a
 * version u8 (REG_VERSION), as the ring records and Message do, so that their rows can grow.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { readU32LE, writeU32LE } from "../bytes.ts";

/** Protocol version this file speaks. */
export const PROTO_VERSION = 1;

/** Frame types. */
export const Frame = {
  /** proto u8, cluster str, node str, nonce bytes (32). Sent first by both sides. */
  Hello: 1,
  /** proof bytes (32): HMAC-SHA256(cookie, sender nonce ‖ receiver nonce ‖ sender ‖ receiver). */
  Auth: 2,
  /** Nothing: "I am alive". Any frame counts as alive. */
  Heartbeat: 3,
  /**
   * reason str: the sender refuses the link during the handshake (wrong cookie, other cluster)
   * and closes it. Both sides checking at once, the faster one closed before the other could
   * tell why; with this frame both log the reason.
   */
  Refuse: 4,
  /** Nothing: forget every route and shared member of the sender; a full set follows. */
  RoutesReset: 10,
  /** Nothing: the full set that followed RoutesReset is complete. */
  RoutesEnd: 15,
  /**
   * id u32: answer ROUTE_SYNCED once every shard of the receiver has the routes sent before this
   * frame (route before SUBACK across nodes, route_sync.ts).
   */
  RouteSync: 16,
  /** id u32: the ROUTE_SYNC of that id is done. */
  RouteSynced: 17,
  /** count u32, filters str: the sender gained its first subscriber of each filter. */
  RouteAdd: 11,
  /** count u32, filters str: ... lost its last one. */
  RouteDel: 12,
  /** group, filter, client id, subscription (str each): a shared-subscription member joined. */
  SharedAdd: 13,
  /** group, filter, client id, subscription: ... left. */
  SharedDel: 14,
  /** topic str, message bytes: deliver to the receiver's local subscribers, never forward again. */
  Publish: 20,
  /** client id, subscription str, hops u8, message bytes: one shared-group member's message. */
  SharedDeliver: 21,
  /** message bytes: a retained write (an empty payload clears the topic). */
  Retain: 22,
  /** client id str: the client connected on the sender; the receiver ends its own (0x8E). */
  ClientOpen: 30,
  /** id u32, client id str: "hand me this client's session" (takeover across nodes). */
  TakeoverBegin: 31,
  /** id u32, body str: the session as JSON, "" when the receiver had none. */
  TakeoverReply: 32,
  /**
   * id u32, client id str, count u32, peer node strs: "I have the session and its routes: hand
   * me its pendings once each named peer's TAKEOVER_FENCED came" (takeover_fence.ts).
   */
  TakeoverEnd: 35,
  /** id u32, body str: the pendings as JSON ({deliveries}), "" for none. */
  TakeoverPendings: 36,
  /** id u32, old node str: sent before TAKEOVER_END to every other peer; it sends FENCED. */
  TakeoverFence: 37,
  /** id u32, new node str: to the old node, behind every forward sent to it before. */
  TakeoverFenced: 38,
  /**
   * count u32, then (client id str, connected_at f64) per client: the sender's connected
   * clients, part of the full set on link up (netsplit heal: the newest connection stays).
   */
  ClientsFull: 33,
  /** Nothing: the ClientsFull frames of this link up are complete. */
  ClientsEnd: 34,
  /**
   * version u8, count u32, client id strs: the sender now holds a session (connected or not) of
   * each client id (client registry, registry.ts).
   */
  RegAdd: 60,
  /** version u8, count u32, client id strs: ... no longer holds one. */
  RegDel: 61,
  /** version u8: forget every registry entry of the sender; its full set follows. */
  RegReset: 62,
  /** version u8: the full set that followed RegReset is complete. */
  RegEnd: 63,
  /** Nothing: the sender leaves the cluster (`ctl cluster leave`): forget it now. */
  Leave: 40,
  /** node str: `ctl cluster force-leave`: forget that node now (itself: leave). */
  Forget: 41,
  /** count u32, then (node str, address str): the sender first, then the nodes it links to. */
  Members: 42,
  /** id u32, method str, params str (JSON): a question to the receiving node (API, ctl). */
  Request: 50,
  /** id u32, ok u8, body str (JSON, or the error text): the answer to a Request. */
  Reply: 51,
} as const;

/** Version of the registry frames' rows (RegAdd .. RegEnd). */
export const REG_VERSION = 1;

/** Frame header bytes: u32 length + u8 type. */
export const FRAME_HEADER = 5;

/**
 * Largest frame accepted before the peer proved the cookie: HELLO, AUTH and REFUSE are small,
 * and anyone who reaches the cluster port must not make the node buffer a message-sized frame.
 */
export const PRE_AUTH_MAX_FRAME = 4 * 1024;

/** Nonce bytes in HELLO. */
export const NONCE_BYTES = 32;

/** Builds the header of a frame whose payload is `payloadLength` bytes. */
export function frameHeader(type: number, payloadLength: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER);
  writeU32LE(h, 0, payloadLength + 1);
  h[4] = type;
  return h;
}

/**
 * The proof a node sends in AUTH: only a holder of the cookie can compute it, it is bound to
 * both nonces (no replay) and both names (no reflection to a third node).
 *
 * @example
 * ```ts
 * import { proof, proofMatches } from "./proto_v1.ts";
 * import assert from "node:assert/strict";
 * const a = new Uint8Array(32).fill(1), b = new Uint8Array(32).fill(2);
 * const p = proof("secret", a, b, "a@h", "b@h");
 * assert.ok(proofMatches(p, proof("secret", a, b, "a@h", "b@h")));
 * assert.ok(!proofMatches(p, proof("other", a, b, "a@h", "b@h")));
 * ```
 */
export function proof(
  cookie: string,
  senderNonce: Uint8Array,
  receiverNonce: Uint8Array,
  sender: string,
  receiver: string,
): Uint8Array {
  const h = createHmac("sha256", cookie);
  h.update(senderNonce);
  h.update(receiverNonce);
  h.update(`${sender}\n${receiver}`);
  return new Uint8Array(h.digest());
}

/** Constant-time comparison of two proofs. */
export function proofMatches(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Cuts a byte stream into frames. Holds at most one partial frame; a frame longer than
 * `maxFrame` is an error (the link closes) rather than a buffer that grows without bound.
 */
export class FrameDecoder {
  #maxFrame: number;
  /** Bytes of the next frame too few to hold its length (under 4), copied. */
  #buf: Uint8Array = new Uint8Array(0);
  /**
   * Copies of the reads of a frame that spans several, joined once the whole frame is there:
   * joining at every read would copy a large frame once per read (quadratic in its reads).
   */
  #parts: Uint8Array[] = [];
  #partsLen = 0;
  /** Bytes (length prefix included) the frame in #parts needs. */
  #need = 0;

  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /**
   * Changes the largest frame accepted, from the next frame on (a link raises it once the peer
   * proved the cookie: before that, PRE_AUTH_MAX_FRAME).
   */
  set maxFrame(bytes: number) {
    this.#maxFrame = bytes;
  }

  /** Feeds bytes; calls `onFrame` per whole frame (payload is a view valid during the call). */
  push(chunk: Uint8Array, onFrame: (type: number, payload: Uint8Array) => void): void {
    let buf: Uint8Array;
    if (this.#parts.length > 0) {
      // Keep a copy: the chunk belongs to the socket's read.
      this.#parts.push(chunk.slice());
      this.#partsLen += chunk.length;
      if (this.#partsLen < this.#need) return;
      buf = joinAll(this.#parts, this.#partsLen);
      this.#parts = [];
      this.#partsLen = 0;
    } else {
      buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    }
    let at = 0;
    while (buf.length - at >= 4) {
      const len = readU32LE(buf, at);
      if (len < 1 || len > this.#maxFrame) {
        throw new RangeError(`frame of ${len} bytes (at most ${this.#maxFrame})`);
      }
      if (buf.length - at - 4 < len) {
        // The frame goes on in later reads: gather them, join once.
        this.#need = 4 + len;
        this.#parts = [buf.slice(at)];
        this.#partsLen = buf.length - at;
        this.#buf = new Uint8Array(0);
        return;
      }
      const type = buf[at + 4]!;
      onFrame(type, buf.subarray(at + 5, at + 4 + len));
      at += 4 + len;
    }
    // Keep a copy: the chunk belongs to the socket's read.
    this.#buf = buf.length === at ? new Uint8Array(0) : buf.slice(at);
  }
}

function joinAll(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
