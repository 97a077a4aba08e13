/**
 * The supervisor's side of the cluster (issue 15): starts the Cluster and its discovery when
 * `cluster.discovery_strategy` is not singleton, and turns the shards' cluster records into
 * Cluster calls (NodeCluster holds the ones sent before the cluster was up). Private to
 * src/supervisor/; the Cluster never sees a ring.
 */

import type { Config } from "../config/types.ts";
import {
  Cluster,
  type ClusterHost,
  retainClear,
  startDiscovery,
  startMcast,
} from "../cluster/mod.ts";
import { decodeOpFilter, decodeOpShared, FieldReader, RecordKind, shardOf } from "../ipc/mod.ts";
import { nodeInfo, serveClientOp } from "../api/mod.ts";
import type { StoreClient } from "../store/mod.ts";
import type { BrokerControl, Json } from "./broker_control.ts";
import { StoredRetained } from "./retained_view.ts";
import type { ShardRpc } from "./shard_rpc.ts";
import type { ShardLink } from "./_shard_link.ts";
import { clusterTls } from "./_cluster_tls.ts";

/** A started cluster with its discovery. */
export interface ClusterRuntime {
  readonly cluster: Cluster;
  stop(): Promise<void>;
}

/** Starts the cluster listener and discovery, or returns null for a singleton node. */
export async function startCluster(
  config: Config,
  host: ClusterHost,
): Promise<ClusterRuntime | null> {
  if (config.cluster.discoveryStrategy === "singleton") return null;
  const cluster = new Cluster(config, host);
  const { port } = await cluster.start();
  let discovery: { stop(): Promise<void> };
  try {
    discovery = config.cluster.discoveryStrategy === "mcast"
      ? await startMcast(config, cluster, port)
      : startDiscovery(config, cluster, port);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    cluster,
    stop: async () => {
      await discovery.stop();
      await cluster.stop();
    },
  };
}

/** What a node's cluster side reads from the node. */
export interface NodeClusterParts {
  config(): Config;
  /** The current link to each shard (a restarted shard gets a new one). */
  links(): readonly ShardLink[];
  rpc: ShardRpc;
  control: BrokerControl;
  startedAt: number;
  /** The supervisor's store port, null without one. */
  store(): StoreClient | null;
}

/** A node's cluster side: null cluster on a singleton node. */
export class NodeCluster {
  readonly #parts: NodeClusterParts;
  #runtime: ClusterRuntime | null = null;
  /**
   * Cluster records the shards sent before the cluster was up (the routes of the persistent
   * sessions they restored from the store while loading): kept in order and applied once it
   * starts, so a node that comes back announces its sessions' routes. Null when the node is not
   * clustered, and once applied.
   */
  #earlyClusterRecords: { shard: number; kind: number; payload: Uint8Array }[] | null = null;

  constructor(parts: NodeClusterParts) {
    this.#parts = parts;
  }

  /** The cluster links, when the node is clustered and started. */
  get cluster(): Cluster | undefined {
    return this.#runtime?.cluster;
  }

  /** Called first in the node's start: from now on, cluster records wait for start(). */
  holdRecords(): void {
    if (this.#parts.config().cluster.discoveryStrategy !== "singleton") {
      this.#earlyClusterRecords = [];
    }
  }

  /**
   * A cluster record from shard `shard`; false when `kind` is not one. Before the cluster is up
   * its records wait (payloads are fresh copies: kept as is).
   */
  record(shard: number, kind: number, payload: Uint8Array): boolean {
    if (this.#earlyClusterRecords && clusterRecord(undefined, shard, kind, payload)) {
      this.#earlyClusterRecords.push({ shard, kind, payload });
      return true;
    }
    return clusterRecord(this.#runtime?.cluster, shard, kind, payload);
  }

  /** Starts the cluster (unless singleton) and applies the records that waited. */
  async start(): Promise<void> {
    const config = this.#parts.config();
    const control = this.#parts.control;
    const links = () => this.#parts.links();
    const store = this.#parts.store();
    this.#runtime = await startCluster(config, {
      // Files read now: a bad cluster.ssl_options stops the start before any listener opens.
      tls: config.cluster.sslOptions && config.cluster.discoveryStrategy !== "singleton"
        ? clusterTls(config.cluster.sslOptions)
        : null,
      shardCount: links().length,
      shardOf: (key) => shardOf(key, links().length),
      toShard: (shard, kind, parts) => links()[shard]?.write(kind, parts),
      request: (shard, method, params) => this.#parts.rpc.call(shard, method, params),
      serve: (method, params) =>
        serveNode(
          { config: () => this.#parts.config(), control, startedAt: this.#parts.startedAt },
          method,
          params,
        ),
      pauseClients: (on) => {
        for (const link of links()) link.setClusterPause(on);
      },
      // Retained messages on disc are not in the shards: the full set is read from the file.
      ...(config.retainer.storageType === "disc" && store
        ? { retainedPages: () => new StoredRetained(store).exportPages() }
        : {}),
    });
    const cluster = this.#runtime?.cluster;
    // Deletes through the API or ctl reach the other nodes as clears (issue 15).
    if (cluster) {
      control.moreMetrics = () => cluster.metrics();
      control.retainedCleared = (topics) => {
        const at = Date.now();
        // $SYS is per node: another node's own $SYS messages are not this node's to clear.
        for (const t of topics) if (!t.startsWith("$SYS/")) cluster.retain(t, retainClear(t, at));
        // The answer (204, ctl's exit) comes after the tombstones are fsynced: a kill -9 right
        // after it does not let a peer's copy come back at restart (docs/cluster.md).
        cluster.persistRetainClears();
      };
    }
    const early = this.#earlyClusterRecords ?? [];
    this.#earlyClusterRecords = null;
    for (const r of early) clusterRecord(this.#runtime?.cluster, r.shard, r.kind, r.payload);
  }

  /** Stops discovery and the cluster links (after the shards' last forwards went out). */
  async stop(): Promise<void> {
    await this.#runtime?.stop();
  }
}

/**
 * Answers another node's question (src/cluster/node_rpc.ts NodeMethods) from this node's
 * control plane; an unknown method or bad parameters reject with why.
 */
export function serveNode(
  node: { config: () => Config; control: BrokerControl; startedAt: number },
  method: string,
  params: unknown,
): Promise<unknown> {
  const p = (typeof params === "object" && params !== null ? params : {}) as Json;
  const clientOp = serveClientOp(node.control, method, p);
  if (clientOp) return clientOp;
  switch (method) {
    case "node.info":
      return nodeInfo({ ...node, config: node.config() });
    case "node.stats":
      return node.control.stats();
    case "node.metrics":
      return node.control.metrics();
    case "clients.slice":
    case "subscriptions.slice": {
      const { offset, limit } = p;
      if (typeof offset !== "number" || typeof limit !== "number" || offset < 0 || limit < 0) {
        return Promise.reject(new TypeError(`${method}: offset and limit must be numbers`));
      }
      const filter = (typeof p.filter === "object" && p.filter !== null ? p.filter : {}) as Json;
      return method === "clients.slice"
        ? node.control.sliceClients(filter, offset, limit)
        : node.control.sliceSubscriptions(filter, offset, limit);
    }
    default:
      return Promise.reject(new TypeError(`unknown method ${JSON.stringify(method)}`));
  }
}

/** Applies one shard → supervisor cluster record; false when `kind` is not one. */
export function clusterRecord(
  cluster: Cluster | undefined,
  shard: number,
  kind: number,
  payload: Uint8Array,
): boolean {
  switch (kind) {
    case RecordKind.ClusterRoute: {
      const { add, filter } = decodeOpFilter(payload);
      cluster?.shardRoute(shard, add, filter);
      return true;
    }
    case RecordKind.ClusterShared: {
      const { add, m } = decodeOpShared(payload);
      cluster?.shardShared(shard, add, m);
      return true;
    }
    case RecordKind.NodeForward: {
      const r = new FieldReader(payload);
      const node = r.str();
      // The rest (topic, message) is a Publish frame's payload as it is: checked, not decoded.
      const frame = payload.subarray(r.offset);
      r.bytes();
      r.bytes();
      cluster?.forward(node, frame);
      return true;
    }
    case RecordKind.NodeShared: {
      const r = new FieldReader(payload);
      cluster?.forwardShared(r.str(), r.str(), r.str(), r.u8(), r.bytes());
      return true;
    }
    case RecordKind.ClusterRetain: {
      const r = new FieldReader(payload);
      cluster?.retain(r.str(), r.bytes());
      return true;
    }
    case RecordKind.ClusterTakeover: {
      const r = new FieldReader(payload);
      const id = r.u32();
      cluster?.takeover(shard, id, r.str());
      return true;
    }
    case RecordKind.ClusterTakeoverEnd: {
      const r = new FieldReader(payload);
      const id = r.u32();
      const node = r.str();
      cluster?.takeoverEnd(shard, id, node, r.str());
      return true;
    }
    case RecordKind.ClusterRouteSync:
      cluster?.routeSync(shard, new FieldReader(payload).u32());
      return true;
    case RecordKind.ClusterSession: {
      const r = new FieldReader(payload);
      const held = r.u8() === 1;
      cluster?.shardSession(held, r.str());
      return true;
    }
    case RecordKind.ClusterClientOpen:
      cluster?.clientOpened(new FieldReader(payload).str());
      return true;
    default:
      return false;
  }
}
