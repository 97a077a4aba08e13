/**
 * The node: `GET /stats`, `/metrics` (EMQX's `aggregate`), `/nodes`, `/nodes/{node}`,
 * `/listeners` and `/prometheus/stats` (no authentication, as EMQX without
 * `prometheus.enable_basic_auth`; text, or JSON on `Accept: application/json`).
 *
 * @module
 */

import { z } from "zod";
import type { Config } from "../config/types.ts";
import type { BrokerControl } from "../supervisor/broker_control.ts";
import { VERSION } from "../version.ts";
import { ApiError, json } from "./_http.ts";
import { qBool } from "./_schemas.ts";
import { type NodeGauges, prometheusJson, prometheusText } from "./prometheus.ts";
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
}

function gauges(): NodeGauges {
  const sys = Deno.systemMemoryInfo();
  return {
    vmUsedMemory: Deno.memoryUsage().rss,
    vmTotalMemory: sys.total,
    nodesRunning: 1,
    nodesStopped: 0,
  };
}

/** The routes; see the file header. */
export function nodeRoutes(deps: NodeDeps): Route[] {
  const { control, config } = deps;
  const node = config.node.name;
  const nodeInfo = async () => {
    const stats = await control.stats();
    const sys = Deno.systemMemoryInfo();
    const [load1 = 0, load5 = 0, load15 = 0] = Deno.loadavg();
    return {
      node,
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
      shards: config.node.shards,
    };
  };
  const perNode = (q: AggregateQuery, data: Record<string, number>) => {
    if (q.node !== undefined && q.node !== node) {
      throw new ApiError(404, "NOT_FOUND", `Node not found: ${q.node}`);
    }
    return q.aggregate ? json(data) : json([{ node, ...data }]);
  };
  return [
    route<AggregateQuery>({
      method: "GET",
      path: "/stats",
      tag: "Metrics",
      summary: "EMQX's stats (connections.count, topics.count, ...), per node or summed",
      query: aggregateQuery,
      responses: { 200: "[{node, ...}] or {...} with aggregate=true" },
      async handle({ query }) {
        return perNode(query, await control.stats());
      },
    }),
    route<AggregateQuery>({
      method: "GET",
      path: "/metrics",
      tag: "Metrics",
      summary: "EMQX's metrics (messages.received, ...), per node or summed",
      query: aggregateQuery,
      responses: { 200: "[{node, ...}] or {...} with aggregate=true" },
      async handle({ query }) {
        return perNode(query, await control.metrics());
      },
    }),
    route({
      method: "GET",
      path: "/nodes",
      tag: "Nodes",
      summary: "The nodes of the cluster (this node)",
      responses: { 200: "[node]" },
      async handle() {
        return json([await nodeInfo()]);
      },
    }),
    route({
      method: "GET",
      path: "/nodes/{node}",
      tag: "Nodes",
      summary: "One node",
      responses: { 200: "node", 404: "NOT_FOUND" },
      async handle({ params }) {
        if (params.node !== node) throw new ApiError(404, "NOT_FOUND", "Node not found");
        return json(await nodeInfo());
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
      async handle({ request }) {
        const [stats, metrics] = await Promise.all([control.stats(), control.metrics()]);
        if ((request.headers.get("accept") ?? "").includes("application/json")) {
          return json(prometheusJson(stats, metrics, gauges()));
        }
        return new Response(prometheusText(stats, metrics, gauges()), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      },
    }),
  ];
}
