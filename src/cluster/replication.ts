/**
 * Replication: the cluster state this node owns going out, and its peers' coming in. Out: a
 * shard's route and shared-member changes (ROUTE_ADD/DEL, SHARED_ADD/DEL), forwarded publishes
 * and shared deliveries, retained writes, client opens; on every link up the full sets (routes,
 * members, retained with their clears, connected clients). In: the same frames from peers, into
 * the NodeState (which hands them to the shards) or the heal comparison (heal.ts).
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { type FieldReader, FieldWriter, type SharedKey } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import {
  connectedClients,
  olderHere,
  RetainTombstones,
  sendConnected,
  sendRetainedSet,
} from "./heal.ts";
import { type Links, str } from "./links.ts";
import { batches, type NodeState } from "./node_state.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";
import { TombstoneFile } from "./tombstone_file.ts";

const log = getLogger(["culex", "cluster"]);

/** See the file header. */
export class Replication {
  readonly #node: string;
  readonly #host: ClusterHost;
  readonly #links: Links;
  readonly #state: NodeState;
  /** When each peer's full route set began to arrive (RoutesReset). */
  readonly #resyncFrom = new Map<string, number>();
  /** Cleared retained topics, against older copies from peers after a split. */
  readonly #tombstones: RetainTombstones;
  readonly #tombstoneFile: TombstoneFile | null;
  /** Shards whose route adds changed this node's routes since their last route sync. */
  readonly #addedBy = new Set<number>();
  /** A peer's connected clients as its ClientsFull frames arrive (until ClientsEnd). */
  readonly #peerClients = new Map<PeerLink, Map<string, number>>();

  constructor(config: Config, host: ClusterHost, links: Links, state: NodeState) {
    this.#node = config.node.name;
    this.#host = host;
    this.#links = links;
    this.#state = state;
    this.#tombstones = new RetainTombstones(
      config.cluster.retainTombstoneTtl,
      config.cluster.retainTombstoneMax,
    );
    // Retained messages on disc outlive a restart: so must their clears (tombstone_file.ts).
    this.#tombstoneFile = config.retainer.storageType === "disc"
      ? new TombstoneFile(config.node.dataDir, this.#tombstones)
      : null;
  }

  /** Before any link: a peer's older copy of a cleared topic is refused from the first frame. */
  start(): void {
    const restored = this.#tombstoneFile?.start() ?? 0;
    // Exact text: tests read it.
    if (restored > 0) log.info(`Cluster: restored ${restored} retained clears from disc`);
  }

  stop(): void {
    this.#tombstoneFile?.stop();
  }

  /**
   * The clears remembered so far are on disc when this returns (with `disc`; tombstone_file.ts):
   * for deletes through the API or ctl, answered only after it.
   */
  persistClears(): void {
    this.#tombstoneFile?.flush();
  }

  /** The full sets on every link up: the peer may have restarted or healed from a split. */
  linkUp(link: PeerLink): void {
    link.send(Frame.RoutesReset, []);
    for (const batch of batches(this.#state.localFilters())) {
      link.send(Frame.RouteAdd, [routeFrame(batch)]);
    }
    for (const m of this.#state.localMembers()) link.send(Frame.SharedAdd, [sharedFields(m)]);
    link.send(Frame.RoutesEnd, []);
  }

  /** After the Members frame: the retained set and the connected clients (heal.ts). */
  linkUpLate(link: PeerLink): void {
    void sendRetainedSet(link, this.#host, this.#tombstones);
    void sendConnected(link, this.#host);
  }

  linkDown(link: PeerLink): void {
    this.#peerClients.delete(link);
  }

  // From the shards --------------------------------------------------------------------------

  /** A shard's filter gained its first (add) or lost its last subscriber. */
  shardRoute(shard: number, add: boolean, filter: string): void {
    const change = this.#state.localRoute(shard, add, filter);
    if (change && add) this.#addedBy.add(shard);
    if (change) {
      this.#links.broadcast(add ? Frame.RouteAdd : Frame.RouteDel, [routeFrame([filter])]);
    }
  }

  /** Whether shard `shard`'s route adds changed this node's routes since the last call. */
  takeRouteAdded(shard: number): boolean {
    return this.#addedBy.delete(shard);
  }

  /** A shard's client joined (add) or left a shared-subscription group. */
  shardShared(shard: number, add: boolean, m: SharedKey): void {
    if (this.#state.localShared(shard, add, m)) {
      this.#links.broadcast(add ? Frame.SharedAdd : Frame.SharedDel, [sharedFields(m)]);
    }
  }

  /** Shard `shard` restarted empty: its routes go, remote state is sent to it again. */
  shardRestarted(shard: number): void {
    const gone = this.#state.dropShard(shard).map((c) => c.filter);
    for (const batch of batches(gone)) this.#links.broadcast(Frame.RouteDel, [routeFrame(batch)]);
    for (const m of this.#state.dropShardShared(shard)) {
      this.#links.broadcast(Frame.SharedDel, [sharedFields(m)]);
    }
    this.#state.replayTo(shard);
  }

  /**
   * One message for the subscribers of node `node`: the Publish frame's payload (topic str,
   * message bytes) as the shard wrote it after the node in its NodeForward record, so the hop
   * decodes and encodes no topic and builds no writer per message.
   */
  forward(node: string, frame: Uint8Array): void {
    this.#links.sendTo(node, Frame.Publish, [frame]);
  }

  /** One message for one shared-group member on node `node`. */
  forwardShared(
    node: string,
    clientId: string,
    subscription: string,
    hops: number,
    message: Uint8Array,
  ): void {
    const head = new FieldWriter().str(clientId).str(subscription).u8(hops).u32(message.length)
      .finish();
    this.#links.sendTo(node, Frame.SharedDeliver, [head, message]);
  }

  /** A retained write made on this node, for every other node's copy. */
  retain(topic: string, message: Uint8Array): void {
    // A local write is this node's newest word on the topic: sent whatever a tombstone says.
    this.#tombstones.admit(topic, message);
    this.#links.broadcast(Frame.Retain, [
      new FieldWriter().str(topic).u32(message.length).finish(),
      message,
    ]);
  }

  /** A client connected here: other nodes end their connection of the same id (0x8E). */
  clientOpened(clientId: string): void {
    if (this.#links.linked.size > 0) this.#links.broadcast(Frame.ClientOpen, [str(clientId)]);
  }

  // From the peers ---------------------------------------------------------------------------

  /** Handles a state frame; false when `type` is not one. */
  frame(link: PeerLink, type: number, r: FieldReader): boolean {
    const peer = link.peer!;
    switch (type) {
      case Frame.RoutesReset:
        this.#state.resetNode(peer);
        this.#resyncFrom.set(peer, performance.now());
        return true;
      case Frame.RoutesEnd: {
        const began = this.#resyncFrom.get(peer) ?? performance.now();
        this.#resyncFrom.delete(peer);
        // Exact text: operators (and bench/cluster_bench.ts) read how long a full set took.
        log.info(
          `Cluster: full route set of ${peer} received: ${this.#state.routeCount(peer)} ` +
            `routes in ${(performance.now() - began).toFixed(1)} ms`,
        );
        return true;
      }
      case Frame.RouteAdd:
      case Frame.RouteDel: {
        const filters: string[] = [];
        for (let n = r.u32(); n > 0; n--) filters.push(r.str());
        this.#state.remoteRoutes(peer, type === Frame.RouteAdd, filters);
        return true;
      }
      case Frame.SharedAdd:
      case Frame.SharedDel: {
        const m = { group: r.str(), filter: r.str(), clientId: r.str(), subscription: r.str() };
        this.#state.remoteShared(peer, type === Frame.SharedAdd, m);
        return true;
      }
      case Frame.Publish:
        this.#state.deliver(r.str(), r.bytes());
        return true;
      case Frame.SharedDeliver:
        this.#state.deliverShared(r.str(), r.str(), r.u8(), r.bytes());
        return true;
      case Frame.Retain: {
        const topic = r.str();
        const message = r.bytes();
        // Older than a clear remembered here: it would bring a deleted message back.
        if (this.#tombstones.admit(topic, message)) this.#state.retain(topic, message);
        return true;
      }
      case Frame.ClientsFull: {
        let clients = this.#peerClients.get(link);
        if (!clients) this.#peerClients.set(link, clients = new Map());
        for (let n = r.u32(); n > 0; n--) {
          const id = r.str();
          clients.set(id, r.f64());
        }
        return true;
      }
      case Frame.ClientsEnd:
        this.#clientsEnd(link).catch((err) =>
          log.warning("Cluster: comparing the clients of {peer} failed: {error}", {
            peer,
            error: err instanceof Error ? err.message : String(err),
          })
        );
        return true;
      case Frame.ClientOpen:
        this.#state.clientOpenedElsewhere(r.str());
        return true;
      default:
        return false;
    }
  }

  /**
   * A peer's connected clients are all in: a client id connected on both sides stays with the
   * newest connection; this node ends its own older ones (0x8E, session discarded).
   */
  async #clientsEnd(link: PeerLink): Promise<void> {
    const remote = this.#peerClients.get(link) ?? new Map<string, number>();
    this.#peerClients.delete(link);
    if (remote.size === 0) return;
    const local = await connectedClients(this.#host);
    const peer = link.peer ?? "";
    for (const id of olderHere(local, remote, this.#node, peer)) {
      log.info("Cluster: {clientId} is connected on {peer} too, more recently: ended here", {
        clientId: id,
        peer,
      });
      this.#state.clientOpenedElsewhere(id);
    }
  }
}

/** RouteAdd / RouteDel payload: count, then the filters. */
function routeFrame(filters: readonly string[]): Uint8Array {
  const w = new FieldWriter().u32(filters.length);
  for (const f of filters) w.str(f);
  return w.finish();
}

function sharedFields(m: SharedKey): Uint8Array {
  return new FieldWriter().str(m.group).str(m.filter).str(m.clientId).str(m.subscription).finish();
}
