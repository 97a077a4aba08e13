/**
 * LinkAcceptor: the listening side of Links. Opens `cluster.listen`, takes the TLS handshake of
 * an accepted socket when the links use TLS, and bounds the accepted sockets whose handshake is
 * not done (MAX_HANDSHAKES, MAX_HANDSHAKES_PER_HOST). Each accepted socket becomes a PeerLink in
 * the Links' pending set; what happens once it is up is Links' business. Private to src/cluster/.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { createServer, type Server, type Socket } from "node:net";
import type { Config } from "../config/types.ts";
import type { ClusterHost } from "./host.ts";
import { type LinkEvents, type LinkIdentity, PeerLink } from "./peer_link.ts";
import type { LinkSocket } from "./link_socket.ts";
import { REFUSAL_LOG_MS, type RefusalLog } from "./_refusal_log.ts";

const log = getLogger(["culex", "cluster"]);

/**
 * Accepted connections whose handshake (TLS, then HELLO and AUTH) is not done yet, at most: more
 * are closed at once (logged once a minute with how many), so silent connections cannot pile up
 * sockets and buffers; each is closed after HANDSHAKE_TIMEOUT_MS (peer_link.ts) anyway.
 */
export const MAX_HANDSHAKES = 64;
/**
 * Of those, at most this many from one address: one source cannot take every slot and keep
 * the nodes of other addresses from linking (a node needs one or two at a time).
 */
export const MAX_HANDSHAKES_PER_HOST = 8;

/** What the acceptor needs of its Links. */
export interface AcceptorDeps {
  readonly config: Config;
  readonly host: ClusterHost;
  readonly id: LinkIdentity;
  readonly events: LinkEvents;
  /** Links not up yet: an accepted one joins it. */
  readonly pending: Set<PeerLink>;
  readonly refusals: RefusalLog;
  /** True once the Links stopped: accept nothing more. */
  stopped(): boolean;
}

/** See the file header. */
export class LinkAcceptor {
  readonly #deps: AcceptorDeps;
  #server: Server | null = null;
  /** Accepted sockets in their handshake (TLS or cookie), against MAX_HANDSHAKES. */
  #handshakes = 0;
  /** Of #handshakes, per remote address. */
  readonly #handshakesByHost = new Map<string, number>();
  /** Accepted links in their handshake, with their remote address. */
  readonly #acceptedPending = new Map<PeerLink, string>();
  /** Connections closed for MAX_HANDSHAKES since the last log line. */
  #overflowed = 0;
  #overflowLoggedAt = -Infinity;

  constructor(deps: AcceptorDeps) {
    this.#deps = deps;
  }

  /**
   * Opens the listener; resolves with the port it got. A failure names the key
   * (`cluster.listen: cannot listen on host:port: reason`), so the operator knows what to change.
   */
  async listen(): Promise<number> {
    const { host, port } = this.#deps.config.cluster.listen;
    try {
      return await this.#listen(host, port);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`cluster.listen: cannot listen on ${host}:${port}: ${why}`);
    }
  }

  async #listen(host: string, port: number): Promise<number> {
    const server = createServer((socket) => this.#accepted(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === "object" && addr ? addr.port : port;
  }

  /** Closes the listener (Links.stop). */
  async close(): Promise<void> {
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accepted(socket: LinkSocket): void {
    if (this.#deps.stopped()) {
      socket.destroy();
      return;
    }
    const host = socket.remoteAddress ?? "?";
    const fromHost = this.#handshakesByHost.get(host) ?? 0;
    if (this.#handshakes >= MAX_HANDSHAKES || fromHost >= MAX_HANDSHAKES_PER_HOST) {
      socket.destroy();
      this.#overflow();
      return;
    }
    this.#handshakes++;
    this.#handshakesByHost.set(host, fromHost + 1);
    const tls = this.#deps.host.tls;
    if (!tls) {
      this.#acceptPeer(socket, host);
      return;
    }
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    tls.accept(socket as Socket, (secured, why) => {
      if (secured && !this.#deps.stopped()) {
        this.#acceptPeer(secured, host);
        return;
      }
      this.#release(host);
      secured?.destroy();
      socket.destroy();
      // Once per address, reason and minute: a redialling peer does not flood the log.
      const key = `tls ${remote.replace(/:\d+$/, "")} ${why}`;
      if (secured === null && this.#deps.refusals.due(key)) {
        log.warning("Cluster: refused the link from {remote}: {why}", { remote, why });
      }
    });
  }

  /** A PeerLink on an accepted socket; it counts against MAX_HANDSHAKES until up or down. */
  #acceptPeer(socket: LinkSocket, host: string): void {
    const link = new PeerLink(socket, false, this.#deps.id, this.#deps.events);
    // Were it already closed (its down came first), it would never leave the map.
    if (link.isClosed) {
      this.#release(host);
      return;
    }
    this.#acceptedPending.set(link, host);
    this.#deps.pending.add(link);
  }

  /** An accepted link is up or down: its handshake no longer counts. */
  handshakeDone(link: PeerLink): void {
    const host = this.#acceptedPending.get(link);
    if (host === undefined) return;
    this.#acceptedPending.delete(link);
    this.#release(host);
  }

  #release(host: string): void {
    this.#handshakes--;
    const n = (this.#handshakesByHost.get(host) ?? 1) - 1;
    if (n > 0) this.#handshakesByHost.set(host, n);
    else this.#handshakesByHost.delete(host);
  }

  #overflow(): void {
    this.#overflowed++;
    const now = Date.now();
    if (now - this.#overflowLoggedAt < REFUSAL_LOG_MS) return;
    this.#overflowLoggedAt = now;
    log.warning(
      "Cluster: closed {count} connections on cluster.listen: {max} handshakes in progress already ({perHost} from one address at most)",
      { count: this.#overflowed, max: MAX_HANDSHAKES, perHost: MAX_HANDSHAKES_PER_HOST },
    );
    this.#overflowed = 0;
  }
}
