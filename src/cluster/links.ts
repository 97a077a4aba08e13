/**
 * Links: this node's sockets to its peers. Listens on `cluster.listen`, dials the targets it is
 * given (backoff 0.5 s doubling to 10 s, jittered), keeps one link per peer node (two links that
 * meet: the one dialled by the smaller name stays), keeps a down peer for `cluster.autoclean`
 * before it is cleaned, and pushes back to the node's clients when a link's send queue is full.
 * What the frames mean is the Cluster's business (cluster.ts and the modules it owns): Links
 * calls its LinkHooks.
 */

import { getLogger } from "@logtape/logtape";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Config } from "../config/types.ts";
import { FieldWriter } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import { type Dial, Dials, type Target } from "./dials.ts";
import { type LinkEvents, type LinkIdentity, PeerLink } from "./peer_link.ts";
import type { LinkSocket } from "./link_socket.ts";

export type { Dial, Target };

const log = getLogger(["culex", "cluster"]);

/**
 * A refused link (wrong cookie, other cluster) is logged once per peer address and minute; a
 * failed TLS handshake once per address, reason and minute.
 */
const REFUSAL_LOG_MS = 60_000;
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
/** Sources remembered for the once-a-minute refusal log, at most (older ones are forgotten). */
const REFUSAL_LOG_KEYS = 1_024;
/** Frames beyond the largest MQTT packet carry the message's own fields. */
const FRAME_SLACK = 64 * 1024;

/** Status of one peer, for `cluster status` and the tests. */
export interface PeerStatus {
  readonly node: string;
  readonly status: "running" | "stopped";
}

/** What the Cluster does when links change (Links only keeps the sockets). */
export interface LinkHooks {
  /** `link` is the one link to its peer now: send the full sets. */
  up(link: PeerLink): void;
  frame(link: PeerLink, type: number, payload: Uint8Array): void;
  /** Any link closed (also one never up, or one replaced). */
  down(link: PeerLink): void;
  /** `peer` stayed down for cluster.autoclean: drop its state. */
  cleaned(peer: string): void;
}

/** See the file header. */
export class Links {
  readonly node: string;
  readonly #config: Config;
  readonly #host: ClusterHost;
  readonly #id: LinkIdentity;
  readonly #hooks: LinkHooks;
  #server: Server | null = null;
  readonly #dials: Dials;
  readonly #links = new Map<string, PeerLink>();
  readonly #pending = new Set<PeerLink>();
  readonly #down = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #refusalLogged = new Map<string, number>();
  /** Accepted sockets in their handshake (TLS or cookie), against MAX_HANDSHAKES. */
  #handshakes = 0;
  /** Of #handshakes, per remote address. */
  readonly #handshakesByHost = new Map<string, number>();
  /** Accepted links in their handshake, with their remote address. */
  readonly #acceptedPending = new Map<PeerLink, string>();
  /** Connections closed for MAX_HANDSHAKES since the last log line. */
  #overflowed = 0;
  #overflowLoggedAt = -Infinity;
  readonly #congested = new Set<PeerLink>();
  #stopped = false;
  /** Messages for a node whose link is down (dropped: its subscribers are unreachable). */
  droppedNodeDown = 0;
  #dropLoggedAt = 0;

  constructor(config: Config, host: ClusterHost, hooks: LinkHooks) {
    this.#config = config;
    this.#host = host;
    this.#hooks = hooks;
    this.node = config.node.name;
    this.#id = {
      node: config.node.name,
      cluster: config.cluster.name,
      cookie: config.node.cookie,
      heartbeatInterval: config.cluster.heartbeatInterval,
      heartbeatTimeout: config.cluster.heartbeatTimeout,
      maxFrame: config.mqtt.maxPacketSize + FRAME_SLACK,
    };
    this.#dials = new Dials(this.node, (t) => this.#dial(t));
  }

  /** Why the last link to an address failed (for `ctl cluster join`'s error). */
  get lastFailure(): Map<string, string> {
    return this.#dials.lastFailure;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Opens the listener; resolves with the port it got. A failure names the key
   * (`cluster.listen: cannot listen on host:port: reason`), so the operator knows what to change.
   */
  async listen(): Promise<number> {
    const { host, port } = this.#config.cluster.listen;
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

  /** The up link to `node`, if any. */
  get(node: string): PeerLink | undefined {
    return this.#links.get(node);
  }

  /** The peers linked now, by node name. */
  get linked(): ReadonlyMap<string, PeerLink> {
    return this.#links;
  }

  /** Peers down but not yet cleaned. */
  get downNodes(): Iterable<string> {
    return this.#down.keys();
  }

  /** Linked or down but not cleaned. */
  knows(node: string): boolean {
    return this.#links.has(node) || this.#down.has(node);
  }

  /** The dial of `address`, if this node dials it. */
  dialAt(address: string): Dial | undefined {
    return this.#dials.at(address);
  }

  /** The dial whose link `link` is. */
  dialOf(link: PeerLink): Dial | undefined {
    return this.#dials.of(link);
  }

  peers(): PeerStatus[] {
    const out: PeerStatus[] = [];
    for (const node of this.#links.keys()) out.push({ node, status: "running" });
    for (const node of this.#down.keys()) out.push({ node, status: "stopped" });
    return out;
  }

  /** Dials every target (by address) not dialled yet; stops redialling the others. */
  applyTargets(targets: ReadonlyMap<string, Target>): void {
    this.#dials.apply(targets);
  }

  /** Closes the link to `node` (gracefully) and forgets its autoclean timer. */
  forget(node: string): void {
    this.#links.get(node)?.close("forgotten (leave or force-leave)", false, true);
    const timer = this.#down.get(node);
    if (timer !== undefined) clearTimeout(timer);
    this.#down.delete(node);
  }

  /** One frame to `node`; dropped (and counted) when it is down. */
  sendTo(node: string, type: number, parts: readonly Uint8Array[]): void {
    const link = this.#links.get(node);
    if (!link) {
      this.droppedNodeDown++;
      const now = Date.now();
      if (now - this.#dropLoggedAt >= 10_000) {
        this.#dropLoggedAt = now;
        log.warning("Cluster: node {node} is down, {count} messages for it dropped so far", {
          node,
          count: this.droppedNodeDown,
        });
      }
      return;
    }
    link.send(type, parts);
    this.checkQueue(link);
  }

  /** One frame to every linked peer. */
  broadcast(type: number, parts: readonly Uint8Array[]): void {
    for (const link of this.#links.values()) {
      link.send(type, parts);
      this.checkQueue(link);
    }
  }

  /** A link over max_send_queue stops this node's clients until the socket drains. */
  checkQueue(link: PeerLink): void {
    if (link.queued <= this.#config.cluster.maxSendQueue || this.#congested.has(link)) return;
    if (this.#congested.size === 0) this.#host.pauseClients(true);
    this.#congested.add(link);
  }

  /** Hands every link's gathered frames to its socket (end of a supervisor pass). */
  flush(): void {
    for (const link of this.#links.values()) link.flush();
  }

  /** Closes every link and the listener. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#dials.stop();
    for (const t of this.#down.values()) clearTimeout(t);
    for (const link of [...this.#links.values(), ...this.#pending]) link.close("the node stops");
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #events: LinkEvents = {
    up: (link) => this.#linkUp(link),
    frame: (link, type, payload) => this.#hooks.frame(link, type, payload),
    down: (link, reason, refused) => this.#linkDown(link, reason, refused),
    drained: (link) => this.#drained(link),
  };

  #accepted(socket: LinkSocket): void {
    if (this.#stopped) {
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
    const tls = this.#host.tls;
    if (!tls) {
      this.#acceptPeer(socket, host);
      return;
    }
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    tls.accept(socket as Socket, (secured, why) => {
      if (secured && !this.#stopped) {
        this.#acceptPeer(secured, host);
        return;
      }
      this.#release(host);
      secured?.destroy();
      socket.destroy();
      // Once per address, reason and minute: a redialling peer does not flood the log.
      const key = `tls ${remote.replace(/:\d+$/, "")} ${why}`;
      if (secured === null && this.#refusalDue(key)) {
        log.warning("Cluster: refused the link from {remote}: {why}", { remote, why });
      }
    });
  }

  /** A PeerLink on an accepted socket; it counts against MAX_HANDSHAKES until up or down. */
  #acceptPeer(socket: LinkSocket, host: string): void {
    const link = new PeerLink(socket, false, this.#id, this.#events);
    // Were it already closed (its down came first), it would never leave the map.
    if (link.isClosed) {
      this.#release(host);
      return;
    }
    this.#acceptedPending.set(link, host);
    this.#pending.add(link);
  }

  #handshakeDone(link: PeerLink): void {
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

  /**
   * True when `key` (a source) was not logged within REFUSAL_LOG_MS, and notes it. The map
   * keeps at most REFUSAL_LOG_KEYS sources: junk from many addresses cannot grow it.
   */
  #refusalDue(key: string): boolean {
    const now = Date.now();
    const at = this.#refusalLogged.get(key) ?? -Infinity;
    if (now - at < REFUSAL_LOG_MS) return false;
    if (this.#refusalLogged.size >= REFUSAL_LOG_KEYS) {
      for (const [k, t] of this.#refusalLogged) {
        if (now - t >= REFUSAL_LOG_MS) this.#refusalLogged.delete(k);
      }
      // All recent: forget the oldest noted (a Map iterates in insertion order).
      if (this.#refusalLogged.size >= REFUSAL_LOG_KEYS) {
        const oldest = this.#refusalLogged.keys().next().value;
        if (oldest !== undefined) this.#refusalLogged.delete(oldest);
      }
    }
    this.#refusalLogged.delete(key);
    this.#refusalLogged.set(key, now);
    return true;
  }

  #dial(target: Target): PeerLink | null {
    if (this.#stopped) return null;
    // A link to the named node may already exist (the peer dialled us first).
    if (target.name && this.#links.has(target.name)) return null;
    const [host, port] = splitAddress(target.address);
    const socket = this.#host.tls ? this.#host.tls.connect(host, port) : connect({ host, port });
    const link = new PeerLink(socket, true, this.#id, this.#events);
    this.#pending.add(link);
    return link;
  }

  #linkUp(link: PeerLink): void {
    this.#pending.delete(link);
    this.#handshakeDone(link);
    const peer = link.peer!;
    if (peer === this.node) {
      const d = this.dialOf(link);
      if (d) d.self = true; // DNS and etcd list this node too
      link.close("a link to itself");
      return;
    }
    const old = this.#links.get(peer);
    if (old) {
      // Both nodes dialled: keep the link dialled by the smaller name, on both sides alike.
      const dialer = (l: PeerLink) => (l.dialled ? this.node : peer);
      const smaller = this.node < peer ? this.node : peer;
      const keepNew = dialer(link) === smaller && dialer(old) !== smaller;
      if (!keepNew && dialer(old) === smaller) {
        link.close("a second link to the same node");
        return;
      }
      this.#links.delete(peer);
      old.close("replaced by a newer link");
    }
    this.#links.set(peer, link);
    const d = this.dialOf(link);
    if (d) d.attempt = 0;
    const wasDown = this.#down.get(peer);
    if (wasDown !== undefined) clearTimeout(wasDown);
    this.#down.delete(peer);
    log.info("Cluster: node {peer} is up ({way} {remote})", {
      peer,
      way: link.dialled ? "dialled" : "accepted from",
      remote: link.remote,
    });
    this.#hooks.up(link);
  }

  #linkDown(link: PeerLink, reason: string, refused: boolean): void {
    this.#pending.delete(link);
    this.#handshakeDone(link);
    this.#hooks.down(link);
    this.#drained(link);
    const d = this.#dials.down(link, reason);
    const peer = link.peer;
    if (refused) {
      const key = link.dialled
        ? (d?.target.address ?? link.remote)
        : link.remote.replace(/:\d+$/, "");
      if (this.#refusalDue(key)) {
        log.warning("Cluster: refused the link {way} {remote} ({peer}): {reason}", {
          way: link.dialled ? "to" : "from",
          remote: link.remote,
          peer: peer ?? "?",
          reason,
        });
      }
    }
    if (peer && this.#links.get(peer) === link) {
      this.#links.delete(peer);
      if (!this.#stopped) {
        log.warning("Cluster: node {peer} is down: {reason}", { peer, reason });
        // Its routes stay for autoclean: a quick restart does not churn every route.
        this.#down.set(
          peer,
          setTimeout(() => {
            this.#down.delete(peer);
            log.info("Cluster: node {peer} cleaned after autoclean", { peer });
            this.#hooks.cleaned(peer);
          }, this.#config.cluster.autoclean),
        );
      }
    }
  }

  #drained(link: PeerLink): void {
    if (!this.#congested.delete(link)) return;
    if (this.#congested.size === 0) this.#host.pauseClients(false);
  }
}

/** One string field (a frame's payload). */
export function str(s: string): Uint8Array {
  return new FieldWriter().str(s).finish();
}

/** "host:port" or "[v6]:port" → [host, port]. */
export function splitAddress(address: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw new TypeError(`not an address "host:port": ${address}`);
  return [m[1] ?? m[2] ?? "", Number(m[3])];
}
