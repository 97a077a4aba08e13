/**
 * Connection: the byte pump of one accepted socket. Reads go to its owner (the supervisor) as
 * chunks; writes from shard records are corked per drained batch and flushed once; reading pauses
 * while any pause reason holds. Owns the socket's lifecycle and its pre-CONNECT byte buffer. It
 * parses nothing and never touches rings (the supervisor turns its events into records).
 */

import type { SocketHandlers, SocketPort, TransportInfo } from "./listener.ts";

/** Pending output above which the shard is told to hold back (ConnCongested). */
const OUTPUT_HIGH_WATER = 256 * 1024;
/** How long a gracefully closed socket may take to finish before it is destroyed. */
const END_GRACE_MS = 5000;

/** ConnClosed reason when the broker (a shard's ConnClose, a restart, stop) closed the socket. */
const BROKER_CLOSED = "closed by broker";

/** Why reading is paused; reasons combine, reading resumes when none holds. */
export const PauseReason = {
  /** The owner shard cannot take more input (full ring or InputPause). */
  Shard: 1,
  /** The connection's channel holds too many packets while a decision is pending (ConnPause). */
  Channel: 2,
  /** The client is over its listener's bytes_rate (EMQX's limiter). */
  Rate: 4,
} as const;

/** What a Connection reports to its owner. */
export interface ConnectionEvents {
  data(conn: Connection, bytes: Uint8Array): void;
  /** Pending output crossed the high watermark (true) or was flushed (false). */
  congested(conn: Connection, on: boolean): void;
  /** The socket is gone; called exactly once. */
  closed(conn: Connection, reason: string): void;
}

/** What a Connection is created with. */
export interface ConnectionInit {
  /** connId of every record about this socket (unique while the socket is open). */
  id: number;
  /** Listener name, e.g. "tcp:default". */
  listener: string;
  events: ConnectionEvents;
  /** The listener's zone and enable_authn (issue 12), passed on to the shard in ConnOpen. */
  origin?: ListenerOrigin;
}

/** What a connection keeps of its listener: one object per listener, shared. */
export interface ListenerOrigin {
  readonly zone: string;
  readonly enableAuthn: boolean | "quick_deny_anonymous";
}

const DEFAULT_ORIGIN: ListenerOrigin = Object.freeze({ zone: "default", enableAuthn: true });

/** One socket's byte pump; see the file header. */
export class Connection implements SocketHandlers {
  /** Unique per supervisor lifetime; the connId of every record about this socket. */
  readonly id: number;
  /** Listener name, e.g. "tcp:default". */
  readonly listener: string;
  /** "ip:port" of the client. */
  readonly peer: string;
  /** Owner shard, or -1 until the CONNECT peek placed it. */
  shard = -1;
  /** The listener's zone and enable_authn (issue 12). */
  readonly origin: ListenerOrigin;

  #socket: SocketPort;
  #events: ConnectionEvents;
  // Bytes before the CONNECT reached a shard; null afterwards (most of a connection's life).
  #pending: Uint8Array | null = null;
  #pendingLength = 0;
  #pauses = 0;
  #corked = false;
  #congested = false;
  #state: "open" | "ending" | "closed" = "open";
  #endTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: SocketPort, init: ConnectionInit) {
    this.id = init.id;
    this.listener = init.listener;
    this.peer = socket.peer;
    this.origin = init.origin ?? DEFAULT_ORIGIN;
    this.#socket = socket;
    this.#events = init.events;
  }

  /** TLS and WebSocket facts about the client, null for plain TCP. */
  get transport(): TransportInfo | null {
    return this.#socket.transport;
  }

  /** True once the socket is gone. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Starts reading. */
  start(): void {
    this.#socket.attach(this);
  }

  /** SocketHandlers (called by the transport only): bytes arrived. */
  socketData(bytes: Uint8Array): void {
    if (this.#state === "open") this.#events.data(this, bytes);
  }

  /** SocketHandlers (called by the transport only): pending output was flushed. */
  socketDrained(): void {
    if (this.#congested && this.#socket.writableLength < OUTPUT_HIGH_WATER / 2) {
      this.#congested = false;
      this.#events.congested(this, false);
    }
  }

  /** SocketHandlers (called by the transport only): the socket is gone. */
  socketClosed(reason: string): void {
    // When the broker closed first, the peer's answering FIN is not the cause.
    const why = this.#state === "ending" ? BROKER_CLOSED : reason;
    this.#state = "closed";
    clearTimeout(this.#endTimer);
    this.#events.closed(this, why);
  }

  /**
   * Keeps bytes read before the connection has an owner shard (the CONNECT peek), copied since
   * the transport's chunk is held across reads. Returns everything buffered so far.
   */
  buffer(bytes: Uint8Array): Uint8Array {
    const before = this.#pending;
    const held = this.#pendingLength;
    const need = held + bytes.length;
    if (before === null || need > before.length) {
      // Doubled when full: a CONNECT dribbled in small reads is copied a bounded number of times
      // (linear in its size), and the buffer never holds more than twice what arrived.
      const grown = new Uint8Array(Math.max(need, (before?.length ?? 0) * 2));
      if (before !== null) grown.set(before.subarray(0, held));
      this.#pending = grown;
    }
    this.#pending!.set(bytes, held);
    this.#pendingLength = need;
    return this.#pending!.subarray(0, need);
  }

  /** Hands over (and forgets) the bytes buffered by buffer(). */
  takeBuffered(): Uint8Array {
    const out = this.#pending?.subarray(0, this.#pendingLength) ?? new Uint8Array(0);
    this.#pending = null;
    this.#pendingLength = 0;
    return out;
  }

  /**
   * Queues bytes for the socket. The first write of a batch corks the socket; returns true then,
   * and the owner must call flush() when the batch is done. Dropped once the socket is closing.
   */
  send(bytes: Uint8Array): boolean {
    if (this.#state !== "open") return false;
    const first = !this.#corked;
    if (first) {
      this.#socket.cork();
      this.#corked = true;
    }
    this.#socket.write(bytes);
    if (!this.#congested && this.#socket.writableLength > OUTPUT_HIGH_WATER) {
      this.#congested = true;
      this.#events.congested(this, true);
    }
    return first;
  }

  /** Ends the batch: the corked writes go out together. */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }

  /** Adds a pause reason; reading stops while any holds. */
  pause(reason: number): void {
    const before = this.#pauses;
    this.#pauses |= reason;
    if (before === 0 && this.#pauses !== 0 && this.#state === "open") this.#socket.pause();
  }

  /** Removes a pause reason. */
  resume(reason: number): void {
    const before = this.#pauses;
    this.#pauses &= ~reason;
    if (before !== 0 && this.#pauses === 0 && this.#state === "open") this.#socket.resume();
  }

  /** Writes what is pending, then closes; destroys the socket if that takes too long. */
  end(): void {
    if (this.#state !== "open") return;
    this.#state = "ending";
    this.#corked = false;
    this.#socket.end();
    this.#endTimer = setTimeout(() => this.#socket.destroy(), END_GRACE_MS);
  }

  /** Closes now, dropping pending output. */
  destroy(): void {
    if (this.#state === "closed") return;
    this.#state = "ending";
    this.#socket.destroy();
  }
}
