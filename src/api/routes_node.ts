/**
 * The node: `GET /stats`, `/metrics` (EMQX's `aggregate`), `/nodes`, `/nodes/{node}`,
 * `/listeners` and `/prometheus/stats` (no authentication, as EMQX without
 * `prometheus.enable_basic_auth`; text, or JSON on `Accept: application/json`).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import type { Config } from "../config/types.ts";
import type { BrokerControl } from "../supervisor/broker_control.ts";
import { ApiError, json } from "./_http.ts";
import { nodeInfo as thisNode } from "./node_info.ts";
import { type ClusterView, gatherNodes } from "./routes_cluster.ts";
import { qBool } from "./_schemas.ts";
import { type NodeGauges, prometheusJson, prometheusText } from "./prometheus.ts";
import { type NodeNumbers, prometheusTextPerNode, sumNodes } from "./prometheus_cluster.ts";
import { type Route, route } from "./router.ts";

const aggregateQuery = z.object({ aggregate: qBool().optional(), node: z.string().optional() });
type AggregateQuery = z.output<typeof aggregateQuery>;

/** One MQTT listener as GET /listeners shows it. */
export interface ListenerInfo {
  /** "tcp:default". */
  readonly id: string;
  readonly bind: string;
  /** `listeners.<type>.<name>.enable` of the configuration. */
  readonly enable: boolean;
  readonly running: boolean;
  readonly currentConnections: number;
  readonly maxConnections: number;
}

/**
 * Stops, starts or restarts one MQTT listener, setting the wanted state (repeating it is not an
 * error); `error` "unknown" = no such listener.
 */
export type ListenerActionFn = (
  id: string,
  action: "start" | "stop" | "restart",
) => Promise<{ readonly ok: true } | { readonly ok: false; readonly error: string }>;

/** What the node routes read besides BrokerControl. */
export interface NodeDeps {
  readonly config: Config;
  readonly control: BrokerControl;
  listeners(): ListenerInfo[];
  /** POST /listeners/{id}/start|stop|restart; absent: those paths answer 501. */
  readonly listenerAction?: ListenerActionFn;
  /** Epoch ms when the node started. */
  readonly startedAt: number;
  /** The cluster, when the node is clustered: /nodes, /stats and /metrics answer for all. */
  readonly cluster?: ClusterView | null;
}

const log = getLogger(["culex", "api"]);

function gauges(cluster: ClusterView | null): NodeGauges {
  const sys = Deno.systemMemoryInfo();
  const status = cluster?.status();
  return {
    vmUsedMemory: Deno.memoryUsage().rss,
    vmTotalMemory: sys.total,
    nodesRunning: status ? status.running.length : 1,
    nodesStopped: status ? status.stopped.length : 0,
  };
}

/** EMQX's sum of every node's numbers (`aggregate=true`). */
function sum(all: readonly (Record<string, number> | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const one of all) {
    for (const [k, v] of Object.entries(one ?? {})) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/** The routes; see the file header. */
export function nodeRoutes(deps: NodeDeps): Route[] {
  const { control, config } = deps;
  const node = config.node.name;
  const cluster = deps.cluster ?? null;
  const nodeInfo = () => thisNode(deps);
  const known = (n: string) => {
    const st = cluster?.status();
    return st ? st.running.includes(n) || st.stopped.includes(n) : n === node;
  };
  /** Every node's answer (`?node=` keeps one, 404 when the cluster has no such node). */
  const perNode = async (
    q: AggregateQuery,
    method: "node.stats" | "node.metrics",
    local: () => Promise<Record<string, number>>,
  ) => {
    if (q.node !== undefined && !known(q.node)) {
      throw new ApiError(404, "NOT_FOUND", `Node not found: ${q.node}`);
    }
    const only = q.node === undefined ? {} : { only: q.node };
    const all = await gatherNodes(cluster, node, log, { method, params: {}, ...only }, local);
    if (q.aggregate) return json(sum(all.map((a) => a.answer)));
    return json(all.filter((a) => a.answer).map((a) => ({ node: a.node, ...a.answer })));
  };
  return [
    route<AggregateQuery>({
      method: "GET",
      path: "/stats",
      tag: "Metrics",
      summary: "EMQX's stats (connections.count, topics.count, ...), per node or summed",
      query: aggregateQuery,
      responses: { 200: "[{node, ...}] or {...} with aggregate=true" },
      handle({ query }) {
        return perNode(query, "node.stats", () => control.stats());
      },
    }),
    route<AggregateQuery>({
      method: "GET",
      path: "/metrics",
      tag: "Metrics",
      summary: "EMQX's metrics (messages.received, ...), per node or summed",
      query: aggregateQuery,
      responses: { 200: "[{node, ...}] or {...} with aggregate=true" },
      handle({ query }) {
        return perNode(query, "node.metrics", () => control.metrics());
      },
    }),
    route({
      method: "GET",
      path: "/nodes",
      tag: "Nodes",
      summary: "Every node of the cluster (a stopped or silent one as {node, node_status})",
      responses: { 200: "[node]" },
      async handle() {
        const all = await gatherNodes(
          cluster,
          node,
          log,
          { method: "node.info", params: {} },
          nodeInfo,
        );
        const stopped = cluster?.status().stopped ?? [];
        return json([
          ...all.map((a) => a.answer ?? { node: a.node, node_status: "stopped" }),
          ...stopped.map((n) => ({ node: n, node_status: "stopped" })),
        ]);
      },
    }),
    route({
      method: "GET",
      path: "/nodes/{node}",
      tag: "Nodes",
      summary: "One node",
      responses: { 200: "node", 404: "NOT_FOUND" },
      async handle({ params }) {
        const name = params.node ?? "";
        if (!known(name)) throw new ApiError(404, "NOT_FOUND", "Node not found");
        const [one] = await gatherNodes(
          cluster,
          node,
          log,
          { method: "node.info", params: {}, only: name },
          nodeInfo,
        );
        return json(one?.answer ?? { node: name, node_status: "stopped" });
      },
    }),
    route({
      method: "GET",
      path: "/listeners",
      tag: "Listeners",
      summary: "The MQTT listeners with their connection counts",
      responses: { 200: "[listener]" },
      handle() {
        return json(
          deps.listeners().map((l) => {
            const [type, name] = l.id.split(":");
            const status = {
              running: l.running,
              current_connections: l.currentConnections,
              max_connections: l.maxConnections === 0 ? "infinity" : l.maxConnections,
            };
            return {
              id: l.id,
              type,
              name,
              bind: l.bind,
              enable: l.enable,
              running: l.running,
              current_connections: l.currentConnections,
              max_connections: status.max_connections,
              status,
              node_status: [{ node, status }],
            };
          }),
        );
      },
    }),
    ...(["start", "stop", "restart"] as const).map((action) =>
      route({
        method: "POST",
        path: `/listeners/{id}/${action}`,
        tag: "Listeners",
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} one MQTT listener ` +
          "(until the node stops; stopping closes its connections)",
        responses: { 200: "done", 400: "BAD_REQUEST", 404: "BAD_LISTENER_ID" },
        async handle({ params }) {
          if (!deps.listenerAction) {
            throw new ApiError(501, "NOT_SUPPORTED", "Listeners cannot be switched here");
          }
          const r = await deps.listenerAction(params.id ?? "", action);
          if (r.ok) return new Response(null, { status: 200 });
          if (r.error === "unknown") {
            throw new ApiError(404, "BAD_LISTENER_ID", "Listener id not found");
          }
          throw new ApiError(400, "BAD_REQUEST", r.error);
        },
      })
    ),
    route({
      method: "GET",
      path: "/prometheus/stats",
      tag: "Monitor",
      summary: "Stats and metrics for Prometheus (text format 0.0.4; JSON on Accept)",
      access: "public",
      query: z.object({
        mode: z.enum(["node", "all_nodes_aggregated", "all_nodes_unaggregated"]).optional(),
      }),
      responses: { 200: "text/plain; version=0.0.4, or JSON" },
      async handle({ request, query }) {
        const wantsJson = (request.headers.get("accept") ?? "").includes("application/json");
        const text = (body: string) =>
          new Response(body, {
            headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
          });
        const g = gauges(cluster);
        if (query.mode === undefined || query.mode === "node") {
          const [stats, metrics] = await Promise.all([control.stats(), control.metrics()]);
          return wantsJson
            ? json(prometheusJson(stats, metrics, g))
            : text(prometheusText(stats, metrics, g));
        }
        // Every running node that answered both questions (a silent one is left out).
        const ask = (
          method: "node.stats" | "node.metrics",
          local: () => Promise<Record<string, number>>,
        ) => gatherNodes(cluster, node, log, { method, params: {} }, local);
        const [stats, metrics] = await Promise.all([
          ask("node.stats", () => control.stats()),
          ask("node.metrics", () => control.metrics()),
        ]);
        const nodes: NodeNumbers[] = [];
        for (const [i, s] of stats.entries()) {
          const m = metrics[i]?.answer;
          if (s.answer && m) nodes.push({ node: s.node, stats: s.answer, metrics: m });
        }
        if (query.mode === "all_nodes_aggregated") {
          const sum = sumNodes(nodes);
          return wantsJson
            ? json(prometheusJson(sum.stats, sum.metrics, g))
            : text(prometheusText(sum.stats, sum.metrics, g));
        }
        return wantsJson
          ? json(nodes.map((n) => ({ node: n.node, ...prometheusJson(n.stats, n.metrics, g) })))
          : text(prometheusTextPerNode(nodes, g));
      },
    }),
  ];
}
