/**
 * Prometheus exposition of the node's stats and metrics with EMQX's names (`emqx_` + the dotted
 * name with underscores: `messages.qos0.received` → `emqx_messages_qos0_received`; counters
 * without a `_total` suffix, as EMQX), in the text format 0.0.4, and the same numbers as JSON.
 * Pure functions; routes_node.ts serves them at `/prometheus/stats`.
 *
 * @module
 */

/** A metric name as EMQX's Prometheus collector writes it. */
export function promName(dotted: string): string {
  return `emqx_${dotted.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The gauges besides the stats (`connections.count`, ...), all about this node. */
export interface NodeGauges {
  readonly vmUsedMemory: number;
  readonly vmTotalMemory: number;
  readonly nodesRunning: number;
  readonly nodesStopped: number;
}

function line(name: string, type: "gauge" | "counter", value: number): string {
  return `# TYPE ${name} ${type}\n${name} ${Number.isFinite(value) ? value : 0}\n`;
}

/**
 * The text format: stats are gauges, metrics are counters, one `# TYPE` line each, names sorted.
 *
 * @example
 * ```ts
 * import { prometheusText } from "./prometheus.ts";
 * import assert from "node:assert/strict";
 * const text = prometheusText({ "connections.count": 2 }, { "messages.received": 5 }, {
 *   vmUsedMemory: 1, vmTotalMemory: 2, nodesRunning: 1, nodesStopped: 0,
 * });
 * assert.ok(text.includes("# TYPE emqx_connections_count gauge\nemqx_connections_count 2\n"));
 * assert.ok(text.includes("emqx_messages_received 5\n"));
 * ```
 */
export function prometheusText(
  stats: Readonly<Record<string, number>>,
  metrics: Readonly<Record<string, number>>,
  gauges: NodeGauges,
): string {
  const out: string[] = [];
  for (const k of Object.keys(stats).sort()) out.push(line(promName(k), "gauge", stats[k]!));
  out.push(line("emqx_vm_used_memory", "gauge", gauges.vmUsedMemory));
  out.push(line("emqx_vm_total_memory", "gauge", gauges.vmTotalMemory));
  out.push(line("emqx_cluster_nodes_running", "gauge", gauges.nodesRunning));
  out.push(line("emqx_cluster_nodes_stopped", "gauge", gauges.nodesStopped));
  for (const k of Object.keys(metrics).sort()) {
    out.push(line(promName(k), "counter", metrics[k]!));
  }
  return out.join("");
}

/** The same numbers as one JSON object, Prometheus names as keys. */
export function prometheusJson(
  stats: Readonly<Record<string, number>>,
  metrics: Readonly<Record<string, number>>,
  gauges: NodeGauges,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats)) out[promName(k)] = v;
  out.emqx_vm_used_memory = gauges.vmUsedMemory;
  out.emqx_vm_total_memory = gauges.vmTotalMemory;
  out.emqx_cluster_nodes_running = gauges.nodesRunning;
  out.emqx_cluster_nodes_stopped = gauges.nodesStopped;
  for (const [k, v] of Object.entries(metrics)) out[promName(k)] = v;
  return out;
}
