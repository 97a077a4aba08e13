/**
 * The supervisor's side of the cluster (issue 15): starts the Cluster and its discovery when
 * `cluster.discovery_strategy` is not singleton, and turns the shards' cluster records into
 * Cluster calls. Private to src/supervisor/; the Cluster never sees a ring.
 */

import type { Config } from "../config/types.ts";
import { Cluster, type ClusterHost, startDiscovery } from "../cluster/mod.ts";
import { decodeOpFilter, decodeOpShared, FieldReader, RecordKind } from "../ipc/mod.ts";

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
  const discovery = startDiscovery(config, cluster, port);
  return {
    cluster,
    stop: async () => {
      await discovery.stop();
      await cluster.stop();
    },
  };
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
      cluster?.forward(r.str(), r.str(), r.bytes());
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
    case RecordKind.ClusterClientOpen:
      cluster?.clientOpened(new FieldReader(payload).str());
      return true;
    default:
      return false;
  }
}
