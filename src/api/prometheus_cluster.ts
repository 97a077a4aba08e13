/**
 * Prometheus over the cluster (EMQX's `mode` of `/prometheus/stats`): `all_nodes_aggregated`
 * sums every node's stats and metrics into the node format, `all_nodes_unaggregated` writes each
 * series once per node with a `node` label (`emqx_connections_count{node="a@h"} 3`). Pure
 * functions; routes_node.ts serves them.
 *
 * @module
 */

import { type NodeGauges, promName } from "./prometheus.ts";

/** One node's numbers. */
export interface NodeNumbers {
  readonly node: string;
  readonly stats: Readonly<Record<string, number>>;
  readonly metrics: Readonly<Record<string, number>>;
}

/** Label values escaped as the text format wants (backslash, quote, newline). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * `all_nodes_unaggregated`: one `# TYPE` line per name, then its value on every node.
 *
 * @example
 * ```ts
 * import { prometheusTextPerNode } from "./prometheus_cluster.ts";
 * import assert from "node:assert/strict";
 * const text = prometheusTextPerNode([
 *   { node: "a@h", stats: { "connections.count": 2 }, metrics: {} },
 *   { node: "b@h", stats: { "connections.count": 3 }, metrics: {} },
 * ], { vmUsedMemory: 1, vmTotalMemory: 2, nodesRunning: 2, nodesStopped: 0 });
 * assert.ok(text.includes(
 *   '# TYPE emqx_connections_count gauge\nemqx_connections_count{node="a@h"} 2\n' +
 *     'emqx_connections_count{node="b@h"} 3\n',
 * ));
 * ```
 */
export function prometheusTextPerNode(nodes: readonly NodeNumbers[], gauges: NodeGauges): string {
  const out: string[] = [];
  const series = (
    type: "gauge" | "counter",
    pick: (n: NodeNumbers) => Readonly<Record<string, number>>,
  ) => {
    const names = new Set<string>();
    for (const n of nodes) for (const k of Object.keys(pick(n))) names.add(k);
    for (const k of [...names].sort()) {
      out.push(`# TYPE ${promName(k)} ${type}\n`);
      for (const n of nodes) {
        const v = pick(n)[k];
        if (v !== undefined) {
          out.push(`${promName(k)}{node="${label(n.node)}"} ${Number.isFinite(v) ? v : 0}\n`);
        }
      }
    }
  };
  series("gauge", (n) => n.stats);
  out.push(
    `# TYPE emqx_cluster_nodes_running gauge\nemqx_cluster_nodes_running ${gauges.nodesRunning}\n`,
  );
  out.push(
    `# TYPE emqx_cluster_nodes_stopped gauge\nemqx_cluster_nodes_stopped ${gauges.nodesStopped}\n`,
  );
  series("counter", (n) => n.metrics);
  return out.join("");
}

/** The sum of every node's numbers (`all_nodes_aggregated`). */
export function sumNodes(nodes: readonly NodeNumbers[]): {
  stats: Record<string, number>;
  metrics: Record<string, number>;
} {
  const stats: Record<string, number> = {};
  const metrics: Record<string, number> = {};
  for (const n of nodes) {
    for (const [k, v] of Object.entries(n.stats)) stats[k] = (stats[k] ?? 0) + v;
    for (const [k, v] of Object.entries(n.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
  }
  return { stats, metrics };
}
