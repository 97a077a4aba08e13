/**
 * ConnectGate: the first stage of every connection. Buffers the bytes read before the client id
 * is known, asks peekConnect (src/mqtt/connect_peek.ts) for it, assigns one when it is empty, and
 * refuses a connection whose first packet is malformed, too large or late (idle_timeout). Private
 * to src/supervisor/. Owns the CONNECT deadlines (one sweep timer); does no other MQTT and writes no
 * record (the supervisor places the connection on its shard).
 */

import { getLogger } from "@logtape/logtape";
import { peekConnect } from "../mqtt/connect_peek.ts";
import type { Connection } from "./connection.ts";

const log = getLogger(["culex", "supervisor"]);

/** MQTT fixed header: type byte + up to 4 bytes of remaining length. */
const MAX_FIXED_HEADER = 5;

/** Limits and the callback of a ConnectGate. */
export interface ConnectGateOptions {
  /** mqtt.max_packet_size: bounds the bytes buffered before CONNECT is complete. */
  maxPacketSize: number;
  /** mqtt.idle_timeout in ms; 0 waits forever. */
  idleTimeout: number;
  /** CONNECT is complete: place `conn` by `clientId`; `assigned` is "" unless the broker chose. */
  onConnect(conn: Connection, clientId: string, assigned: string): void;
}

/** `culex-` + 16 random hex digits, for a CONNECT with an empty client id. */
export function assignClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return "culex-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** See the file header. */
export class ConnectGate {
  #options: ConnectGateOptions;
  /**
   * Connections in the gate with the time they entered, in entry order (a Map iterates in
   * insertion order), so a sweep stops at the first one still in time. One timer for the gate,
   * not one per connection: a per-connection setTimeout/clearTimeout pair was about 10 µs and
   * two objects of every connect.
   */
  #entered = new Map<Connection, number>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** Sweep period: a quarter of idle_timeout, at most a second, at least 10 ms. */
  readonly #sweepMs: number;

  constructor(options: ConnectGateOptions) {
    this.#options = options;
    this.#sweepMs = Math.max(10, Math.min(1000, Math.floor(options.idleTimeout / 4)));
  }

  /** A run-time config change: connections entering from now on get these limits. */
  setLimits(maxPacketSize: number, idleTimeout: number): void {
    this.#options = { ...this.#options, maxPacketSize, idleTimeout };
  }

  /** A new connection enters the gate; its CONNECT deadline starts now. */
  enter(conn: Connection): void {
    if (this.#options.idleTimeout <= 0) return;
    this.#entered.set(conn, Date.now());
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepMs);
  }

  /** Stops the sweep timer (the node stops); connections still in the gate are not closed. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#entered.clear();
  }

  /** Bytes read from a connection still in the gate. */
  data(conn: Connection, bytes: Uint8Array): void {
    const max = this.#options.maxPacketSize;
    const buffered = conn.buffer(bytes);
    const peek = peekConnect(buffered, max);
    if (peek.kind === "invalid") {
      this.#refuse(conn, peek.reason);
    } else if (peek.kind === "need-more") {
      if (buffered.length > max + MAX_FIXED_HEADER) {
        this.#refuse(conn, `first packet exceeds max_packet_size ${max}`);
      }
    } else {
      this.leave(conn);
      const assigned = peek.clientId === "" ? assignClientId() : "";
      this.#options.onConnect(conn, peek.clientId || assigned, assigned);
    }
  }

  /** The connection left the gate (placed or closed): forget its deadline. */
  leave(conn: Connection): void {
    this.#entered.delete(conn);
  }

  /** Refuses every connection past idle_timeout; the timer stops once the gate is empty. */
  #sweep(): void {
    const idle = this.#options.idleTimeout;
    const now = Date.now();
    for (const [conn, at] of this.#entered) {
      if (now - at < idle) break;
      this.#refuse(conn, `no CONNECT within ${idle} ms`);
    }
    // Stopped here rather than in leave(): during a connect storm the gate empties and fills
    // constantly, and re-arming the timer on each would cost what it saves.
    if (this.#entered.size === 0) this.close();
  }

  /** Logs once with the peer address and closes only this socket. */
  #refuse(conn: Connection, reason: string): void {
    this.leave(conn);
    if (conn.closed || conn.shard >= 0) return;
    log.warning("Closing {peer} on {listener}: {reason}", {
      peer: conn.peer,
      listener: conn.listener,
      reason,
    });
    conn.destroy();
  }
}
