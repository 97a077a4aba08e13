/**
 * `culex ctl cluster ...` in EMQX's words (apps/emqx_management/src/emqx_mgmt_cli.erl
 * cluster/1): `join <Node>`, `leave`, `force-leave <Node>`, `status [--json]`. A node that is
 * not clustered (singleton) answers status with itself alone and refuses the rest. Failures
 * print EMQX 5.8's line with its reason term and exit 0, as `emqx ctl` 5.8 does. Private to
 * src/supervisor/; the Cluster does the work.
 *
 * @module
 */

import { type Cluster, seedTarget } from "../cluster/mod.ts";
import type { CtlAnswer } from "../ctl/protocol.ts";
import { getLogger } from "@logtape/logtape";

/** A node as `cluster join` takes it: "name@host" or "name@host:port" (port 4370 by default). */
const NODE = /^[^@\s]+@(?:\[[0-9A-Fa-f:.]+\]|[^@\s:[\]]+)(?::\d{1,5})?$/;

const ok = (text: string): CtlAnswer => ({ code: 0, text });
const log = getLogger(["culex", "ctl"]);

/**
 * A node name as Erlang's `~0p` prints an atom: bare when it is a plain atom (`a@host`), else in
 * single quotes (`'b@127.0.0.1'`), as EMQX's failure lines show the reason's node.
 */
export function erlAtom(name: string): string {
  if (/^[a-z][A-Za-z0-9_@]*$/.test(name)) return name;
  return `'${name.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * A failure in EMQX 5.8's words and exit status: `emqx_mgmt_cli:cluster/1` prints
 * `Failed to ...: <reason>` and returns ok, so `emqx ctl` exits 0 (later EMQX returns the error
 * and exits 1). Culex's own reason, which EMQX's Erlang term cannot carry, goes to the log.
 */
function failed(what: string, reason: string, detail?: string): CtlAnswer {
  if (detail) log.warning("ctl cluster: {what}: {detail}", { what, detail });
  return ok(`Failed to ${what}: ${reason}`);
}

/** EMQX's status line: `Cluster status: #{running_nodes => ['a@h','b@h'],stopped_nodes => []}`. */
export function clusterStatusLine(s: { running: string[]; stopped: string[] }): string {
  // `~p` of a list of node atoms: quoted only where Erlang needs it ('a@10.0.0.1', b@host).
  const list = (nodes: string[]) => `[${nodes.map(erlAtom).join(",")}]`;
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
    const join = "join the cluster";
    // EMQX's ekka_node:parse_name puts this node's host on a name without one; a node it
    // cannot reach is `{node_down, Node}`.
    const host = nodeName.slice(nodeName.indexOf("@") + 1);
    if (!NODE.test(arg)) {
      const named = arg.includes("@") ? arg : `${arg}@${host}`;
      return failed(join, `{node_down,${erlAtom(named)}}`, `bad node name ${arg}`);
    }
    const target = seedTarget(arg);
    const named = target.name ?? arg;
    if (!cluster) return failed(join, `{node_down,${erlAtom(named)}}`, notClustered);
    if (target.name === nodeName) return ok("Ignore.");
    if (target.name !== undefined && status().running.includes(target.name)) {
      return failed(join, `{already_in_cluster,${erlAtom(target.name)}}`);
    }
    const error = await cluster.join(target);
    if (error) return failed(join, `{node_down,${erlAtom(named)}}`, error);
    return ok(`Join the cluster successfully.\n${clusterStatusLine(status())}`);
  }
  if (sub === "leave" && arg === undefined) {
    const leave = "leave the cluster";
    if (!cluster) return failed(leave, "node_not_in_cluster", notClustered);
    const s = status();
    // As EMQX, discovery stops even when there was no cluster to leave.
    cluster.leave();
    if (s.running.length <= 1 && s.stopped.length === 0) {
      return failed(leave, "node_not_in_cluster");
    }
    return ok(`Leave the cluster successfully.\n${clusterStatusLine(status())}`);
  }
  if (sub === "force-leave" && arg !== undefined && more.length === 0) {
    const remove = "remove the node from cluster";
    if (!cluster) return failed(remove, "node_not_in_cluster", notClustered);
    if (arg === nodeName) return ok("Ignore.");
    const error = cluster.forceLeave(arg);
    if (error) return failed(remove, "node_not_in_cluster", error);
    return ok(`Remove the node from cluster successfully.\n${clusterStatusLine(status())}`);
  }
  return null;
}
