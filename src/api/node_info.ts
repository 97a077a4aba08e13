/**
 * One node as EMQX's `GET /api/v5/nodes` shows it (emqx_mgmt:node_info/0): counts from the
 * shards, load and memory of this host. Answered for this node here, and for other nodes by
 * themselves over the node links (src/cluster/node_rpc.ts, method "node.info"). Owns nothing.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { BrokerControl, Json } from "../supervisor/broker_control.ts";
import { VERSION } from "../version.ts";

/** What nodeInfo() reads. */
export interface NodeInfoDeps {
  readonly config: Config;
  readonly control: BrokerControl;
  /** Epoch ms when the node started. */
  readonly startedAt: number;
}

/** This node in EMQX's shape (plus Culex's `shards`). */
export async function nodeInfo(deps: NodeInfoDeps): Promise<Json> {
  const stats = await deps.control.stats();
  const sys = Deno.systemMemoryInfo();
  const [load1 = 0, load5 = 0, load15 = 0] = Deno.loadavg();
  return {
    node: deps.config.node.name,
    connections: stats["connections.count"] ?? 0,
    live_connections: stats["live_connections.count"] ?? 0,
    cluster_sessions: stats["sessions.count"] ?? 0,
    load1,
    load5,
    load15,
    max_fds: 0,
    memory_total: sys.total,
    memory_used: Deno.memoryUsage().rss,
    node_status: "running",
    otp_release: `deno ${Deno.version.deno}`,
    process_available: 0,
    process_used: 0,
    uptime: Date.now() - deps.startedAt,
    version: VERSION,
    edition: "Opensource",
    sys_path: Deno.cwd(),
    log_path: "",
    role: "core",
    shards: deps.config.node.shards,
  };
}
