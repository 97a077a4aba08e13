/**
 * `culex ctl cluster ...` in EMQX's words (apps/emqx_management/src/emqx_mgmt_cli.erl
 * cluster/1): `join <Node>`, `leave`, `force-leave <Node>`, `status [--json]`. A node that is
 * not clustered (singleton) answers status with itself alone and refuses the rest. Private to
 * src/supervisor/; the Cluster does the work.
 *
 * @module
 */

import { type Cluster, seedTarget } from "../cluster/mod.ts";
import type { CtlAnswer } from "../ctl/protocol.ts";

/** A node as `cluster join` takes it: "name@host" or "name@host:port" (port 4370 by default). */
const NODE = /^[^@\s]+@(?:\[[0-9A-Fa-f:.]+\]|[^@\s:[\]]+)(?::\d{1,5})?$/;

const ok = (text: string): CtlAnswer => ({ code: 0, text });
const fail = (text: string): CtlAnswer => ({ code: 1, text });

/** EMQX's status line: `Cluster status: #{running_nodes => ['a@h','b@h'],stopped_nodes => []}`. */
export function clusterStatusLine(s: { running: string[]; stopped: string[] }): string {
  const list = (nodes: string[]) => `[${nodes.map((n) => `'${n}'`).join(",")}]`;
  return `Cluster status: #{running_nodes => ${list(s.running)},stopped_nodes => ${
    list(s.stopped)
  }}`;
}

/** Runs `cluster <rest...>`; null when the words are not a cluster command (usage follows). */
export async function clusterCtl(
  rest: readonly string[],
  cluster: Cluster | undefined,
  nodeName: string,
): Promise<CtlAnswer | null> {
  const status = () => cluster?.status() ?? { running: [nodeName], stopped: [] };
  const [sub, arg, ...more] = rest;
  const notClustered = "the node is not clustered (cluster.discovery_strategy is singleton)";
  if (sub === "status" && more.length === 0 && (arg === undefined || arg === "--json")) {
    const s = status();
    if (arg === "--json") {
      return ok(JSON.stringify({ running_nodes: s.running, stopped_nodes: s.stopped }));
    }
    return ok(clusterStatusLine(s));
  }
  if (sub === "join" && arg !== undefined && more.length === 0) {
    if (!NODE.test(arg)) return fail(`Failed to join the cluster: bad node name ${arg}`);
    if (!cluster) return fail(`Failed to join the cluster: ${notClustered}`);
    const target = seedTarget(arg);
    if (target.name === nodeName) return ok("Ignore.");
    const error = await cluster.join(target);
    if (error) return fail(`Failed to join the cluster: ${error}`);
    return ok(`Join the cluster successfully.\n${clusterStatusLine(status())}`);
  }
  if (sub === "leave" && arg === undefined) {
    if (!cluster) return fail(`Failed to leave the cluster: ${notClustered}`);
    cluster.leave();
    return ok(`Leave the cluster successfully.\n${clusterStatusLine(status())}`);
  }
  if (sub === "force-leave" && arg !== undefined && more.length === 0) {
    if (!cluster) return fail(`Failed to remove the node from cluster: ${notClustered}`);
    if (arg === nodeName) return ok("Ignore.");
    const error = cluster.forceLeave(arg);
    if (error) return fail(`Failed to remove the node from cluster: ${error}`);
    return ok(`Remove the node from cluster successfully.\n${clusterStatusLine(status())}`);
  }
  return null;
}
