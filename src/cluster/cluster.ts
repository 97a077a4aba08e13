/**
 * Cluster: the facade the supervisor holds for this node's place in the cluster. It wires the
 * modules that own each part and routes the peers' frames to them:
 * - Links (links.ts): the sockets, dialling, one link per peer, autoclean of a down peer;
 * - Membership (membership.ts): what to dial, `ctl cluster join|leave|force-leave`, Members;
 * - Replication (replication.ts): routes, shared members, retained, forwards, client opens;
 * - Takeovers (takeover.ts): a session moving between nodes;
 * - NodeRpc (node_rpc.ts): questions to other nodes (API, ctl).
 * Lives in the supervisor isolate; never touches a ring itself (ClusterHost does).
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { FieldReader, type SharedKey } from "../ipc/mod.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";
import { NodeState } from "./node_state.ts";
import type { ClusterHost } from "./host.ts";
import { type NodeMethod, type NodeMethods, NodeRequestError, NodeRpc } from "./node_rpc.ts";
import { Links, type PeerStatus, type Target } from "./links.ts";
import { Membership } from "./membership.ts";
import { Replication } from "./replication.ts";
import { Takeovers } from "./takeover.ts";
import { ClientRegistry } from "./registry.ts";
import { RouteSyncs } from "./route_sync.ts";

export type { ClusterHost, PeerStatus, Target };
export { splitAddress } from "./links.ts";

const log = getLogger(["culex", "cluster"]);

/** This node's links and the cluster state; see the file header. */
export class Cluster {
  readonly node: string;
  readonly state: NodeState;
  readonly #config: Config;
  readonly #host: ClusterHost;
  readonly #links: Links;
  readonly #membership: Membership;
  readonly #replication: Replication;
  readonly #takeovers: Takeovers;
  readonly #registry: ClientRegistry;
  readonly #routeSyncs: RouteSyncs;
  /** Questions to other nodes (API, ctl). */
  readonly #rpc: NodeRpc;

  constructor(config: Config, host: ClusterHost) {
    this.#config = config;
    this.#host = host;
    this.node = config.node.name;
    this.state = new NodeState(host);
    this.#links = new Links(config, host, {
      up: (link) => this.#linkUp(link),
      frame: (link, type, payload) => this.#onFrame(link, type, payload),
      down: (link) => this.#linkDown(link),
      cleaned: (peer) => this.#dropNode(peer),
    });
    this.#membership = new Membership(config, this.#links, (node) => this.#dropNode(node));
    this.#replication = new Replication(config, host, this.#links, this.state);
    this.#takeovers = new Takeovers(config, host, this.#links);
    this.#registry = new ClientRegistry(this.#links, config.cluster.registryMax);
    this.#routeSyncs = new RouteSyncs(config, host, this.#links);
    this.#rpc = new NodeRpc(config.cluster.requestTimeout);
  }

  /** Messages for a node whose link is down (dropped: its subscribers are unreachable). */
  get droppedNodeDown(): number {
    return this.#links.droppedNodeDown;
  }

  /**
   * This node's cluster counters, merged into its metrics (`GET /metrics`, `/prometheus/stats`,
   * `$SYS`, `ctl broker metrics`); EMQX-style names, docs/cluster.md.
   */
  metrics(): Record<string, number> {
    const lookups = this.#registry.lookups;
    return {
      "cluster.session_lookup.owner": lookups.owner,
      "cluster.session_lookup.owner_fallback": this.#takeovers.ownerFallbacks,
      "cluster.session_lookup.peers": lookups.peers,
      "cluster.session_lookup.none": lookups.none,
      "cluster.registry.refused": this.#registry.refused,
      "messages.dropped.node_down": this.#links.droppedNodeDown,
      // Added to the shards' own count (BrokerControl sums): the total counts every drop, its
      // `.node_down` part included, as EMQX's messages.dropped counts its `.no_subscribers`.
      "messages.dropped": this.#links.droppedNodeDown,
    };
  }

  /** Opens the cluster listener; logs `Cluster listening on <host>:<port>`. */
  async start(): Promise<{ host: string; port: number }> {
    this.#replication.start();
    const host = this.#config.cluster.listen.host;
    const real = await this.#links.listen();
    // Exact text: tests and operators read the port from this line.
    log.info(`Cluster ${this.#config.cluster.name} node ${this.node} listening on ${host}:${real}`);
    this.#membership.started(real);
    return { host, port: real };
  }

  /** Closes every link and the listener. */
  async stop(): Promise<void> {
    this.#replication.stop();
    this.#takeovers.stop();
    this.#routeSyncs.stop();
    await this.#links.stop();
  }

  /** Hands every link's gathered frames to its socket (end of a supervisor pass). */
  flush(): void {
    this.#registry.flush();
    this.#links.flush();
  }

  /** Nodes this node has a link to, or had one to and keeps routes of. */
  peers(): PeerStatus[] {
    return this.#links.peers();
  }

  /** Names of the nodes linked now (running) and of those down but not yet cleaned (stopped). */
  status(): { running: string[]; stopped: string[] } {
    return {
      running: [this.node, ...this.#links.linked.keys()].sort(),
      stopped: [...this.#links.downNodes].sort(),
    };
  }

  /** Discovery's current proposal: dials new targets, stops redialling vanished ones. */
  setTargets(targets: readonly Target[]): void {
    this.#membership.setTargets(targets);
  }

  /** `ctl cluster join` (membership.ts): null once linked, else why not. */
  join(target: Target): Promise<string | null> {
    return this.#membership.join(target);
  }

  /** `ctl cluster leave` (membership.ts). */
  leave(): void {
    this.#membership.leave();
  }

  /** `ctl cluster force-leave` (membership.ts): null when done, else why not. */
  forceLeave(node: string): string | null {
    return this.#membership.forceLeave(node);
  }

  /**
   * Asks `node` (a linked peer) one of NodeMethods; rejects with NodeRequestError when it is
   * not linked, its link goes down or it does not answer within cluster.request_timeout.
   */
  ask<M extends NodeMethod>(
    node: string,
    method: M,
    params: NodeMethods[M]["params"],
  ): Promise<NodeMethods[M]["result"]> {
    const link = this.#links.get(node);
    if (!link?.isUp) return Promise.reject(new NodeRequestError(node, "not linked"));
    return this.#rpc.ask(link, method, params);
  }

  // From the shards (replication.ts, takeover.ts) -------------------------------------------

  shardRoute(shard: number, add: boolean, filter: string): void {
    this.#replication.shardRoute(shard, add, filter);
  }

  /** Route before SUBACK across nodes: shard `shard`'s added routes reach every peer (route_sync.ts). */
  routeSync(shard: number, requestId: number): void {
    this.#routeSyncs.begin(shard, requestId, this.#replication.takeRouteAdded(shard));
  }

  shardShared(shard: number, add: boolean, m: SharedKey): void {
    this.#replication.shardShared(shard, add, m);
  }

  shardRestarted(shard: number): void {
    this.#replication.shardRestarted(shard);
    this.#registry.shardRestarted(shard, (id) => this.#host.shardOf(id));
  }

  /** One message for node `node`: a Publish frame's payload (a NodeForward record's tail). */
  forward(node: string, frame: Uint8Array): void {
    this.#replication.forward(node, frame);
  }

  forwardShared(
    node: string,
    clientId: string,
    subscription: string,
    hops: number,
    message: Uint8Array,
  ): void {
    this.#replication.forwardShared(node, clientId, subscription, hops, message);
  }

  retain(topic: string, message: Uint8Array): void {
    this.#replication.retain(topic, message);
  }

  /** Writes the pending retained clears to disc now (with `disc`); see Replication. */
  persistRetainClears(): void {
    this.#replication.persistClears();
  }

  clientOpened(clientId: string): void {
    this.#replication.clientOpened(clientId);
  }

  /** A shard of this node now holds (true) or no longer holds a session (registry.ts). */
  shardSession(held: boolean, clientId: string): void {
    this.#registry.held(held, clientId);
  }

  /**
   * A shard asks for a client's session (clean_start = false, none here): the nodes the client
   * registry names (registry.ts) are asked (takeover.ts); none: no session, at once.
   */
  takeover(shard: number, requestId: number, clientId: string): void {
    const { first, then, named } = this.#registry.whoToAsk(clientId);
    log.debug("Cluster: the session of {clientId} asked from {nodes} (registry: {named})", {
      clientId,
      nodes: first.map((l) => l.peer).join(",") || "no node",
      named: named || "none",
    });
    this.#takeovers.begin(shard, requestId, clientId, first, then);
  }

  /** The shard imported the session from `node`: its pendings (takeover.ts). */
  takeoverEnd(shard: number, requestId: number, node: string, clientId: string): void {
    this.#takeovers.end(shard, requestId, node, clientId);
  }

  // Links ------------------------------------------------------------------------------------

  #linkUp(link: PeerLink): void {
    this.#replication.linkUp(link);
    this.#registry.linkUp(link);
    link.send(Frame.Members, [this.#membership.membersFrame()]);
    this.#replication.linkUpLate(link);
  }

  #linkDown(link: PeerLink): void {
    this.#takeovers.linkDown(link);
    this.#replication.linkDown(link);
    this.#registry.linkDown(link);
    this.#routeSyncs.linkDown(link);
    this.#rpc.linkDown(link);
  }

  /** `node` is gone (autoclean, leave, force-leave): what it owned goes. */
  #dropNode(node: string): void {
    this.state.dropNode(node);
    this.#registry.dropNode(node);
  }

  #onFrame(link: PeerLink, type: number, payload: Uint8Array): void {
    const peer = link.peer!;
    try {
      const r = new FieldReader(payload);
      if (this.#replication.frame(link, type, r)) return;
      if (this.#takeovers.frame(link, type, r)) return;
      if (this.#registry.frame(link, type, r)) return;
      if (this.#routeSyncs.frame(link, type, r)) return;
      switch (type) {
        case Frame.Members: {
          const members: Target[] = [];
          for (let n = r.u32(); n > 0; n--) members.push({ name: r.str(), address: r.str() });
          this.#membership.members(link, members);
          return;
        }
        case Frame.Leave:
          this.#membership.peerLeaves(peer);
          return;
        case Frame.Forget:
          this.#membership.peerForgets(peer, r.str());
          return;
        case Frame.Request: {
          const id = r.u32();
          const method = r.str();
          this.#rpc.answer(link, id, method, r.str(), (m, p) => this.#host.serve(m, p));
          return;
        }
        case Frame.Reply: {
          const id = r.u32();
          const ok = r.u8() === 1;
          this.#rpc.replied(link, id, ok, r.str());
          return;
        }
        default:
          link.close(`unknown frame type ${type}`);
      }
    } catch (err) {
      link.close(`bad frame ${type}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
