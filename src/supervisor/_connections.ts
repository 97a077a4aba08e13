/**
 * Connections: the supervisor's table of open client sockets. Admits an accepted socket (address
 * bans first), gives it its connection id, sends its bytes to its shard (or to the CONNECT gate
 * before it has one), opens it on the shard of its client id once the gate lets it through,
 * closes every socket at stop, and forgets each when it closes. Private to src/supervisor/. Owns the id → Connection
 * map and the id counter; the policy, the gate and the shard links are the supervisor's, handed in
 * through ConnectionsParts.
 */

import { getLogger } from "@logtape/logtape";
import { Connection, type ConnectionEvents } from "./connection.ts";
import type { Listener, SocketPort } from "./listener.ts";
import type { ClientPolicy } from "./_client_policy.ts";
import type { ConnectGate } from "./_connect_gate.ts";
import type { ShardLink } from "./_shard_link.ts";

const log = getLogger(["culex", "supervisor"]);

/** Bound on waiting for sockets to flush and close at stop. */
const CLOSE_TIMEOUT_MS = 2000;

/** What the table works with. */
export interface ConnectionsParts {
  /** Address bans at accept and bytes_rate per client. */
  policy: ClientPolicy;
  /** Holds a connection's bytes until its CONNECT names the client. */
  gate: ConnectGate;
  /** The current link to shard `index`. */
  link(index: number): ShardLink | undefined;
  /** The shard a client id is placed on. */
  shardOf(clientId: string): number;
  /** The node is stopping: new sockets are closed at once. */
  stopping(): boolean;
  /** One socket read, for the idle GC's measure of load. */
  worked(): void;
}

/** See the file header. */
export class Connections {
  readonly #parts: ConnectionsParts;
  #conns = new Map<number, Connection>();
  #nextId = 1;
  #onIdle: (() => void) | null = null;
  #events: ConnectionEvents = {
    data: (conn, bytes) => this.#onData(conn, bytes),
    congested: (conn, on) => this.#parts.link(conn.shard)?.congested(conn, on),
    closed: (conn, reason) => this.#onClosed(conn, reason),
  };

  constructor(parts: ConnectionsParts) {
    this.#parts = parts;
  }

  /** Open client sockets. */
  get size(): number {
    return this.#conns.size;
  }

  /** The open connection `id`. */
  get(id: number): Connection | undefined {
    return this.#conns.get(id);
  }

  /** Every open connection. */
  values(): IterableIterator<Connection> {
    return this.#conns.values();
  }

  /** Closes every connection of listener `id` (the listener stops). */
  closeListener(id: string): void {
    for (const conn of this.#conns.values()) if (conn.listener === id) conn.destroy();
  }

  /** A listener accepted `socket`. */
  accept(socket: SocketPort, listener: Listener): void {
    if (this.#parts.stopping()) {
      socket.destroy();
      return;
    }
    const ban = this.#parts.policy.bannedPeer(socket.peer);
    if (ban) {
      // Before a single byte is read, as EMQX's peerhost bans (the log line is the evidence).
      log.info("Refused {peer} on {listener}: banned ({as} {who})", {
        peer: socket.peer,
        listener: listener.name,
        as: ban.as,
        who: ban.who,
      });
      socket.destroy();
      return;
    }
    while (this.#conns.has(this.#nextId)) this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    const conn = new Connection(socket, {
      id: this.#nextId,
      listener: listener.name,
      events: this.#events,
      origin: listener, // a Listener has zone and enableAuthn: no object per connection
    });
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    this.#conns.set(conn.id, conn);
    this.#parts.policy.opened(conn, listener.name);
    this.#parts.gate.enter(conn);
    conn.start();
  }

  /**
   * The CONNECT gate let `conn` through: it opens on the shard of its client id, with the bytes
   * the gate held.
   */
  place(conn: Connection, clientId: string, assigned: string): void {
    // mqtt.peer_cert_as_clientid: the certificate's id replaces the CONNECT's and places it.
    const forced = conn.transport?.clientIdOverride || "";
    const id = forced || clientId;
    this.#parts.link(this.#parts.shardOf(id))!.open(
      conn,
      forced ? "" : assigned,
      conn.takeBuffered(),
    );
  }

  /**
   * The node stops: every socket writes what is pending and closes; those still open after
   * CLOSE_TIMEOUT_MS are destroyed.
   */
  async closeAll(): Promise<void> {
    for (const conn of this.#conns.values()) conn.end();
    await this.allClosed(CLOSE_TIMEOUT_MS);
    for (const conn of this.#conns.values()) conn.destroy();
  }

  /** Resolves when every connection closed, or after `timeoutMs`. */
  allClosed(timeoutMs: number): Promise<void> {
    if (this.#conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#onIdle = null;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#onIdle = done;
    });
  }

  #onData(conn: Connection, bytes: Uint8Array): void {
    this.#parts.worked();
    this.#parts.policy.read(conn, bytes.length);
    const link = this.#parts.link(conn.shard);
    if (link) {
      link.inbound(conn, bytes);
      return;
    }
    // Before CONNECT: the gate buffers until the client id is known.
    this.#parts.gate.data(conn, bytes);
  }

  #onClosed(conn: Connection, reason: string): void {
    this.#conns.delete(conn.id);
    this.#parts.policy.closed(conn);
    this.#parts.gate.leave(conn);
    this.#parts.link(conn.shard)?.closed(conn, reason);
    if (this.#conns.size === 0) this.#onIdle?.();
  }
}
