/**
 * The Listener interface every transport implements (TCP, TLS, WebSocket, WSS), the
 * transport-neutral SocketPort a listener hands to the supervisor, and Admission (connection
 * count and accept-rate limits of one listener). Owns no socket itself and parses nothing.
 */

/**
 * What a socket reports to its owner. Each handler is called on the supervisor isolate. The owner
 * implements these as methods (Connection does), not as closures: at 20,000 idle sockets every
 * per-socket closure and its context shows up in memory per connection.
 */
export interface SocketHandlers {
  /** Bytes arrived (the chunk may be kept: the transport does not reuse it). */
  socketData(bytes: Uint8Array): void;
  /** Pending output was flushed to the kernel. */
  socketDrained(): void;
  /** The socket is gone (peer closed, error, or end()/destroy()); called exactly once. */
  socketClosed(reason: string): void;
}

/** What a transport learnt about its client beyond the address (TLS and WebSocket only). */
export interface TransportInfo {
  /** The client certificate's common name ("" when none or no TLS). */
  readonly certCommonName: string;
  /** The client certificate's subject, RFC 4514 ("" when none or no TLS). */
  readonly certSubject: string;
  /** mqtt.peer_cert_as_username / peer_cert_as_clientid applied to the certificate ("" = none). */
  readonly usernameOverride: string;
  readonly clientIdOverride: string;
  /** WebSocket: the value of websocket.auth_cookie_name in the upgrade request ("" = none). */
  readonly cookie: string;
}

/**
 * One accepted socket, transport-neutral. Connection drives it; only the transport behind it
 * touches the real socket.
 */
export interface SocketPort {
  /** Peer address, "ip:port" ("[v6]:port" for IPv6); the PROXY header's or proxy_address_header's
   * address when the listener trusts one. */
  readonly peer: string;
  /** Null for plain TCP (nothing beyond the address). */
  readonly transport: TransportInfo | null;
  /** Bytes queued in userland, not yet handed to the kernel. */
  readonly writableLength: number;
  /** Starts delivering events to `handlers`; data read before this call is held until then. */
  attach(handlers: SocketHandlers): void;
  write(bytes: Uint8Array): void;
  /** Buffers writes until uncork(), so a batch goes out in one syscall. */
  cork(): void;
  uncork(): void;
  /** Stops reading (TCP backpressure reaches the peer) / reads again. */
  pause(): void;
  resume(): void;
  /** Flushes pending writes, then closes. */
  end(): void;
  /** Closes now, dropping pending writes. */
  destroy(): void;
}

/** Called for every admitted socket. */
export type AcceptHandler = (socket: SocketPort, listener: Listener) => void;

/** Where a listener actually listens (the real port, also when the config asked for 0). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Accepts connections of one transport and admits or refuses them. */
export interface Listener {
  /** `<transport>:<name>`, e.g. "tcp:default". */
  readonly name: string;
  /** The listener's `zone` and `enable_authn`, passed to the shard with each connection. */
  readonly zone: string;
  readonly enableAuthn: boolean | "quick_deny_anonymous";
  /** Admitted sockets still open. */
  readonly connectionCount: number;
  /** Binds and starts accepting; resolves with the bound address. */
  start(): Promise<ListenAddress>;
  /** Stops accepting. Open sockets stay open: their owner closes them. */
  stop(): Promise<void>;
  /** Re-reads TLS certificate files for new handshakes (no-op without TLS); throws on failure. */
  reload(): void;
}

/** Limits of one listener; 0 means unlimited for both. */
export interface AdmissionLimits {
  maxConnections: number;
  /** New connections per second (may be a fraction: "1/10s" is 0.1). */
  maxConnRate: number;
}

/**
 * Admission control of one listener: the open-connection cap and a token bucket for the accept
 * rate (burst up to one second's worth).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const a = new Admission({ maxConnections: 1, maxConnRate: 0 });
 * assert.equal(a.admit(0), "ok");
 * assert.equal(a.admit(0), "max-connections"); // one connection is open
 * a.released();
 * assert.equal(a.admit(0), "ok");
 * ```
 */
export class Admission {
  #limits: AdmissionLimits;
  #open = 0;
  #tokens: number;
  #refilledAt = -1;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
    // Burst: one second's worth, and at least one connection (a rate such as 1/10s is 0.1/s).
    this.#tokens = Math.max(1, limits.maxConnRate);
  }

  /** Admitted connections not yet released. */
  get open(): number {
    return this.#open;
  }

  /**
   * Decides on a new connection at time `now` (ms); after "ok" the connection counts as open
   * until released().
   */
  admit(now: number): "ok" | "max-connections" | "rate" {
    const { maxConnections, maxConnRate } = this.#limits;
    if (maxConnections > 0 && this.#open >= maxConnections) return "max-connections";
    if (maxConnRate > 0) {
      if (this.#refilledAt >= 0) {
        const earned = ((now - this.#refilledAt) / 1000) * maxConnRate;
        this.#tokens = Math.min(Math.max(1, maxConnRate), this.#tokens + earned);
      }
      this.#refilledAt = now;
      if (this.#tokens < 1) return "rate";
      this.#tokens -= 1;
    }
    this.#open++;
    return "ok";
  }

  /** An admitted connection closed. */
  released(): void {
    if (this.#open > 0) this.#open--;
  }
}
