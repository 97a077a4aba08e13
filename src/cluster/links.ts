/**
 * Links: this node's sockets to its peers. Listens on `cluster.listen`, dials the targets it is
 * given (backoff 0.5 s doubling to 10 s, jittered), keeps one link per peer node (two links that
 * meet: the one dialled by the smaller name stays), keeps a down peer for `cluster.autoclean`
 * before it is cleaned, and pushes back to the node's clients when a link's send queue is full.
 * What the frames mean is the Cluster's business (cluster.ts and the modules it owns): Links
 * calls its LinkHooks.
 */

import { getLogger } from "@logtape/logtape";
import { connect } from "node:net";
import type { Config } from "../config/types.ts";
import { FieldWriter } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import { type Dial, Dials, type Target } from "./dials.ts";
import { type LinkEvents, type LinkIdentity, PeerLink } from "./peer_link.ts";
import { LinkAcceptor } from "./_link_acceptor.ts";
import { RefusalLog } from "./_refusal_log.ts";

export type { Dial, Target };
export { MAX_HANDSHAKES, MAX_HANDSHAKES_PER_HOST } from "./_link_acceptor.ts";

const log = getLogger(["culex", "cluster"]);

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
  readonly #dials: Dials;
  readonly #links = new Map<string, PeerLink>();
  readonly #pending = new Set<PeerLink>();
  readonly #down = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #refusals = new RefusalLog();
  readonly #acceptor: LinkAcceptor;
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
    this.#acceptor = new LinkAcceptor({
      config,
      host,
      id: this.#id,
      events: this.#events,
      pending: this.#pending,
      refusals: this.#refusals,
      stopped: () => this.#stopped,
    });
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
  listen(): Promise<number> {
    return this.#acceptor.listen();
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
    await this.#acceptor.close();
  }

  #events: LinkEvents = {
    up: (link) => this.#linkUp(link),
    frame: (link, type, payload) => this.#hooks.frame(link, type, payload),
    down: (link, reason, refused) => this.#linkDown(link, reason, refused),
    drained: (link) => this.#drained(link),
  };

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
    this.#acceptor.handshakeDone(link);
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
    this.#acceptor.handshakeDone(link);
    this.#hooks.down(link);
    this.#drained(link);
    const d = this.#dials.down(link, reason);
    const peer = link.peer;
    if (refused) {
      const key = link.dialled
        ? (d?.target.address ?? link.remote)
        : link.remote.replace(/:\d+$/, "");
      if (this.#refusals.due(key)) {
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
