/**
 * PeerLink: one TCP link to another node. Runs the handshake (HELLO both ways, then AUTH with
 * the cookie proof, compared in constant time), sends heartbeats and closes a link that stays
 * silent, and frames what the Cluster sends. Owns its socket and timers; knows nothing about
 * routes or shards (cluster.ts decides what the frames mean).
 */

import { FieldReader, FieldWriter } from "../ipc/mod.ts";
import {
  Frame,
  FRAME_HEADER,
  FrameDecoder,
  frameHeader,
  NONCE_BYTES,
  PRE_AUTH_MAX_FRAME,
  proof,
  proofMatches,
  PROTO_VERSION,
} from "./proto_v1.ts";
import type { LinkSocket } from "./link_socket.ts";

/** What a link needs to know about this node. */
export interface LinkIdentity {
  readonly node: string;
  readonly cluster: string;
  readonly cookie: string;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  /** Largest frame accepted from the peer. */
  readonly maxFrame: number;
}

/** What a link reports to its owner. */
export interface LinkEvents {
  /** The peer proved it holds the cookie. */
  up(link: PeerLink): void;
  /** A frame after the handshake. */
  frame(link: PeerLink, type: number, payload: Uint8Array): void;
  /** The link is closed (once), with why; `refused` when the handshake failed on its merits. */
  down(link: PeerLink, reason: string, refused: boolean): void;
  /** Everything queued so far was handed to the kernel. */
  drained(link: PeerLink): void;
}

type LinkState = "hello" | "auth" | "up" | "closed";

/** Reason prefix of a link the peer refused (its Refuse frame); never answered with one. */
const REFUSED_BY = "refused by the peer";
/** A node name as `node.name` allows it ("name@host"), bounded: HELLO's names are not yet proven. */
const NODE_NAME = /^[^@\s]+@[^@\s]+$/;
const NODE_NAME_MAX = 255;
/** Bytes of a peer's unproven text (its cluster name, a REFUSE reason) kept in a reason or log. */
const QUOTED_MAX = 64;

/**
 * A peer's text as it may appear in a reason that is logged: quoted and escaped (no control
 * characters or line breaks reach the log from a connection that proved nothing) and cut short.
 */
function quoted(text: string): string {
  const cut = text.length > QUOTED_MAX ? `${text.slice(0, QUOTED_MAX)}…` : text;
  return JSON.stringify(cut);
}
/**
 * A link whose handshake is not done this long after it opened is closed, however much it sends:
 * without it, a connection that trickles one byte a second would stay (any byte counts as heard).
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A gracefully closed socket is destroyed after this long at the latest. */
const GRACE_MS = 1_000;

/** Parts this large are written to the socket as they are; smaller ones are gathered. */
const DIRECT_WRITE = 64 * 1024;

/** One node link; see the file header. */
export class PeerLink {
  /** True when this node dialled the link. */
  readonly dialled: boolean;
  /** The peer's node name once its HELLO arrived. */
  peer: string | null = null;
  #state: LinkState = "hello";
  readonly #socket: LinkSocket;
  readonly #id: LinkIdentity;
  readonly #events: LinkEvents;
  readonly #decoder: FrameDecoder;
  readonly #nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  #peerNonce: Uint8Array | null = null;
  #lastHeard = Date.now();
  readonly #openedAt = Date.now();
  #timer: ReturnType<typeof setInterval>;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #flushQueued = false;
  #remote = "?";

  constructor(socket: LinkSocket, dialled: boolean, id: LinkIdentity, events: LinkEvents) {
    this.#socket = socket;
    this.dialled = dialled;
    this.#id = id;
    this.#events = events;
    // Small until the peer proved the cookie (raised in #handshake).
    this.#decoder = new FrameDecoder(Math.min(PRE_AUTH_MAX_FRAME, id.maxFrame));
    // Noted now for an accepted socket; a dialled one knows its peer only once connected.
    void this.remote;
    socket.setNoDelay(true);
    // Again once connected: a dialled socket may not keep a setting made before its connect.
    if (dialled) socket.once("connect", () => socket.setNoDelay(true));
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", (err: Error) => this.close(`socket error: ${err.message}`));
    socket.on("close", () => this.close("closed by peer"));
    socket.on("drain", () => this.#events.drained(this));
    this.#timer = setInterval(() => this.#tick(), id.heartbeatInterval);
    this.#sendFields(
      Frame.Hello,
      new FieldWriter().u8(PROTO_VERSION).str(id.cluster).str(id.node).bytes(this.#nonce),
    );
  }

  /** "host:port" of the other end as seen by the socket (read late: a dialled one connects later). */
  get remote(): string {
    const host = this.#socket.remoteAddress;
    // Kept once known: a closed socket no longer says where it went.
    if (host !== undefined) this.#remote = `${host}:${this.#socket.remotePort ?? 0}`;
    return this.#remote;
  }

  get isClosed(): boolean {
    return this.#state === "closed";
  }

  get isUp(): boolean {
    return this.#state === "up";
  }

  /** Bytes queued on the socket and not yet taken by the kernel, or not yet written. */
  get queued(): number {
    return this.#socket.writableLength + this.#batchBytes;
  }

  /**
   * Sends one frame whose payload is `parts` concatenated (false: the link is closed). Frames
   * written in one turn go out as one socket write (a full route set is thousands of frames;
   * a write each cost about 0.3 ms in Deno's node:net, measured), copied into one buffer;
   * a part of 64 KiB or more is written as it is, after what was gathered before it.
   */
  send(type: number, parts: readonly Uint8Array[]): boolean {
    if (this.#state === "closed") return false;
    let n = 0;
    for (const p of parts) n += p.length;
    this.#gather(frameHeader(type, n));
    for (const p of parts) {
      if (p.length >= DIRECT_WRITE) {
        this.#flush();
        this.#socket.write(p);
      } else if (p.length > 0) this.#gather(p);
    }
    return true;
  }

  #gather(b: Uint8Array): void {
    this.#batch.push(b);
    this.#batchBytes += b.length;
    if (this.#batchBytes >= DIRECT_WRITE) this.#flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushSoon);
    }
  }

  #flushSoon = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  /**
   * Hands what was gathered to the socket now. The supervisor calls it at the end of each pass
   * over the shard rings, before it flushes its client sockets: the gathered frames would
   * otherwise wait for the microtask after those writes (a forwarded message's node hop is the
   * longer path, so it goes first).
   */
  flush(): void {
    this.#flush();
  }

  #flush(): void {
    if (this.#batchBytes === 0) return;
    const out = new Uint8Array(this.#batchBytes);
    let at = 0;
    for (const b of this.#batch) {
      out.set(b, at);
      at += b.length;
    }
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.#state !== "closed") this.#socket.write(out);
  }

  /**
   * Closes the link (idempotent); `refused` marks a failed handshake. `graceful` first hands
   * the frames sent so far to the socket and ends it (a Leave or Forget must arrive), and
   * destroys it after GRACE_MS at the latest.
   */
  close(reason: string, refused = false, graceful = false): void {
    if (this.#state === "closed") return;
    // A refusal during the handshake tells the peer why (it may not have checked yet).
    if (refused && this.#state !== "up" && !reason.startsWith(REFUSED_BY)) {
      this.#sendFields(Frame.Refuse, new FieldWriter().str(reason));
      graceful = true;
    }
    if (graceful) this.#flush();
    this.#state = "closed";
    clearInterval(this.#timer);
    if (graceful) {
      const socket = this.#socket;
      socket.end();
      setTimeout(() => socket.destroy(), GRACE_MS);
    } else this.#socket.destroy();
    this.#events.down(this, reason, refused);
  }

  #sendFields(type: number, w: FieldWriter): void {
    this.send(type, [w.finish()]);
  }

  #tick(): void {
    if (this.#state !== "up" && Date.now() - this.#openedAt > HANDSHAKE_TIMEOUT_MS) {
      this.close(`no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`, true);
      return;
    }
    if (Date.now() - this.#lastHeard > this.#id.heartbeatTimeout) {
      this.close(`no heartbeat for ${this.#id.heartbeatTimeout} ms`);
      return;
    }
    if (this.#state === "up") this.send(Frame.Heartbeat, []);
  }

  #onData(chunk: Uint8Array): void {
    this.#lastHeard = Date.now();
    try {
      this.#decoder.push(chunk, (type, payload) => {
        if (this.#state === "closed") return;
        if (this.#state === "up") {
          if (type !== Frame.Heartbeat) this.#events.frame(this, type, payload);
          return;
        }
        this.#handshake(type, payload);
      });
    } catch (err) {
      // Before the handshake it is a refusal (logged once per source and minute by Links); after
      // it the link goes down with the reason, and a dialled one is redialled with backoff.
      const why = err instanceof Error ? err.message : String(err);
      this.close(`bad frame: ${why}`, this.#state !== "up");
    }
  }

  #handshake(type: number, payload: Uint8Array): void {
    const r = new FieldReader(payload);
    if (type === Frame.Refuse) return this.close(`${REFUSED_BY}: ${quoted(r.str())}`, true);
    if (this.#state === "hello" && type === Frame.Hello) {
      const proto = r.u8();
      const cluster = r.str();
      const node = r.str();
      const nonce = r.bytes().slice();
      if (proto !== PROTO_VERSION) {
        return this.close(`protocol ${proto} (this node speaks 1)`, true);
      }
      if (cluster !== this.#id.cluster) {
        return this.close(`cluster ${quoted(cluster)} is not "${this.#id.cluster}"`, true);
      }
      if (node.length > NODE_NAME_MAX || !NODE_NAME.test(node)) {
        return this.close(`node name ${quoted(node)} is not "name@host"`, true);
      }
      if (nonce.length !== NONCE_BYTES) return this.close("bad nonce", true);
      this.peer = node;
      this.#peerNonce = nonce;
      this.#state = "auth";
      const mine = proof(this.#id.cookie, this.#nonce, nonce, this.#id.node, node);
      this.#sendFields(Frame.Auth, new FieldWriter().bytes(mine));
      return;
    }
    if (this.#state === "auth" && type === Frame.Auth && this.#peerNonce && this.peer) {
      const expected = proof(
        this.#id.cookie,
        this.#peerNonce,
        this.#nonce,
        this.peer,
        this.#id.node,
      );
      if (!proofMatches(r.bytes(), expected)) return this.close("wrong cookie", true);
      this.#state = "up";
      this.#decoder.maxFrame = this.#id.maxFrame;
      this.#events.up(this);
      return;
    }
    this.close(`frame ${type} during the handshake`, true);
  }
}

/** Frame header size, for callers that account queued bytes. */
export { FRAME_HEADER };
