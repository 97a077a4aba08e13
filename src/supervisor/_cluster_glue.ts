/**
 * The supervisor's side of the cluster (issue 15): starts the Cluster and its discovery when
 * `cluster.discovery_strategy` is not singleton, and turns the shards' cluster records into
 * Cluster calls. Private to src/supervisor/; the Cluster never sees a ring.
 */

import type { Config } from "../config/types.ts";
import { Cluster, type ClusterHost, startDiscovery, startMcast } from "../cluster/mod.ts";
import { decodeOpFilter, decodeOpShared, FieldReader, RecordKind } from "../ipc/mod.ts";
import { nodeInfo, serveClientOp } from "../api/mod.ts";
import type { BrokerControl, Json } from "./broker_control.ts";

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
