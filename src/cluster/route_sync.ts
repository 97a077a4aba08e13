/**
 * RouteSyncs: route before SUBACK across nodes (`cluster.route_sync = sync`, docs/cluster.md).
 * A shard that added node routes asks (ClusterRouteSync) before its SUBACK; its ClusterRoute
 * records came first on the same ring, so their ROUTE_ADD frames are already on every link. If
 * they changed the node's routes, ROUTE_SYNC goes to every linked peer behind them; a peer answers
 * ROUTE_SYNCED once each of its shards has taken the records before it (the `cluster.fence`
 * control request, as takeover_fence.ts), so a publish on that node after it matches the new
 * route. The shard gets its answer when every peer answered, a peer's link went down, or at
 * `cluster.route_sync_timeout` (logged: the SUBACK then goes out with the gap).
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { type FieldReader, FieldWriter, RecordKind } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import type { Links } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";

const log = getLogger(["culex", "cluster"]);

interface Waiting {
  readonly peers: Set<PeerLink>;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly done: () => void;
}

/** See the file header. */
export class RouteSyncs {
  readonly #config: Config;
  readonly #host: ClusterHost;
  readonly #links: Links;
  readonly #waiting = new Map<number, Waiting>();
  #nextKey = 1;
  /** Syncs that ran into route_sync_timeout. */
  timedOut = 0;

  constructor(config: Config, host: ClusterHost, links: Links) {
    this.#config = config;
    this.#host = host;
    this.#links = links;
  }

  /** Shard `shard` asks (request `id`); `changed`: its route adds changed the node's routes. */
  begin(shard: number, id: number, changed: boolean): void {
    const done = () => {
      const payload = new FieldWriter().u32(id).finish();
      this.#host.toShard(shard, RecordKind.RouteSyncAnswer, [payload]);
    };
    const peers = [...this.#links.linked.values()];
    if (!changed || peers.length === 0) return done();
    const key = this.#nextKey;
    this.#nextKey = key >= 0xffff_fffe ? 1 : key + 1;
    const timer = setTimeout(() => {
      const w = this.#waiting.get(key);
      this.#waiting.delete(key);
      this.timedOut++;
      log.warning(
        "Cluster: a SUBACK waited cluster.route_sync_timeout for {nodes}; sent, the route may " +
          "miss messages published there meanwhile ({count} so far)",
        { nodes: [...(w?.peers ?? [])].map((l) => l.peer).join(", "), count: this.timedOut },
      );
      w?.done();
    }, this.#config.cluster.routeSyncTimeout);
    this.#waiting.set(key, { peers: new Set(peers), timer, done });
    const frame = new FieldWriter().u32(key).finish();
    for (const link of peers) link.send(Frame.RouteSync, [frame]);
  }

  /** A link closed: its peer answers nothing more (its routes of this node are reset anyway). */
  linkDown(link: PeerLink): void {
    for (const key of [...this.#waiting.keys()]) this.#answered(link, key);
  }

  stop(): void {
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
  }

  /** Handles ROUTE_SYNC / ROUTE_SYNCED; false when `type` is neither. */
  frame(link: PeerLink, type: number, r: FieldReader): boolean {
    if (type === Frame.RouteSynced) {
      this.#answered(link, r.u32());
      return true;
    }
    if (type !== Frame.RouteSync) return false;
    const key = r.u32();
    const shards = Array.from({ length: this.#host.shardCount }, (_, i) => i);
    void Promise.all(shards.map((s) => this.#host.request(s, "cluster.fence", {})))
      .catch(() => {}) // a shard restarting gets every route again (replayTo)
      .then(() => {
        if (link.isUp) link.send(Frame.RouteSynced, [new FieldWriter().u32(key).finish()]);
      });
    return true;
  }

  #answered(link: PeerLink, key: number): void {
    const w = this.#waiting.get(key);
    if (!w || !w.peers.delete(link) || w.peers.size > 0) return;
    this.#waiting.delete(key);
    clearTimeout(w.timer);
    w.done();
  }
}
