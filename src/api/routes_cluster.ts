/**
 * The cluster as the API sees it: `GET /cluster` (EMQX's `{name, nodes, self}`), and the
 * gathering that makes `/nodes`, `/stats`, `/metrics` and `GET /clients` answer for every node
 * (each other node is asked over the node links, src/cluster/node_rpc.ts). A node that is down
 * or does not answer within `cluster.request_timeout` is left out (logged), so an answer is
 * partial rather than late. Without a cluster (singleton) everything is this node's alone.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { NodeMethod, NodeMethods } from "../cluster/mod.ts";
import type { BrokerControl, Json, Paged } from "../supervisor/broker_control.ts";
import { json } from "./_http.ts";

/** One node's slice: how many rows match there, and the rows asked for. */
interface ShardSlice {
  readonly total: number;
  readonly items: Json[];
}
import { type Route, route } from "./router.ts";

/** What the API needs of the cluster (src/cluster/cluster.ts implements it). */
export interface ClusterView {
  /** This node's name. */
  readonly node: string;
  status(): { running: string[]; stopped: string[] };
  ask<M extends NodeMethod>(
    node: string,
    method: M,
    params: NodeMethods[M]["params"],
  ): Promise<NodeMethods[M]["result"]>;
}

/** One node's answer, or null when it gave none. */
export interface NodeAnswer<T> {
  readonly node: string;
  readonly answer: T | null;
}

/**
 * Asks every running node (this one through `local`, the others over their links), in node
 * order; `only` restricts to one node. Failures are logged and give `answer: null`.
 */
export async function gatherNodes<M extends NodeMethod>(
  cluster: ClusterView | null,
  self: string,
  log: Logger,
  req: { method: M; params: NodeMethods[M]["params"]; only?: string },
  local: () => Promise<NodeMethods[M]["result"]>,
): Promise<NodeAnswer<NodeMethods[M]["result"]>[]> {
  const running = cluster ? cluster.status().running : [self];
  const nodes = req.only === undefined ? running : running.filter((n) => n === req.only);
  return await Promise.all(nodes.map(async (node) => {
    try {
      const answer = node === self || !cluster
        ? await local()
        : await cluster.ask(node, req.method, req.params);
      return { node, answer };
    } catch (err) {
      log.warning("API: node {node} gave no answer to {method}: {error}", {
        node,
        method: req.method,
        error: err instanceof Error ? err.message : String(err),
      });
      return { node, answer: null };
    }
  }));
}

/** A page of a list over several nodes (GET /clients, GET /subscriptions). */
export type NodesLister = (
  q: { page: number; limit: number; node?: string; filter: Json },
) => Promise<Paged<Json>>;

/**
 * GET /clients or GET /subscriptions over every node: nodes in name order, each node's rows in
 * its shards' order, paged over that union (EMQX's `node` query keeps one node). Two rounds:
 * the counts, then the slices the page needs.
 */
export function clusterLister(
  cluster: ClusterView,
  control: BrokerControl,
  log: Logger,
  what: "clients" | "subscriptions",
): NodesLister {
  return (q) => {
    const local = what === "clients"
      ? (offset: number, limit: number) => control.sliceClients(q.filter, offset, limit)
      : (offset: number, limit: number) => control.sliceSubscriptions(q.filter, offset, limit);
    const method = what === "clients" ? "clients.slice" : "subscriptions.slice";
    const slice = (node: string, offset: number, limit: number) =>
      gatherNodes(
        cluster,
        cluster.node,
        log,
        { method, params: { filter: q.filter, offset, limit }, only: node },
        () => local(offset, limit),
      ).then((a) => a[0]?.answer ?? null);
    return pageOverNodes(cluster, q, slice);
  };
}

async function pageOverNodes(
  cluster: ClusterView,
  q: { page: number; limit: number; node?: string },
  slice: (node: string, offset: number, limit: number) => Promise<ShardSlice | null>,
): Promise<Paged<Json>> {
  const nodes = cluster.status().running.filter((n) => q.node === undefined || n === q.node);
  const counts = await Promise.all(nodes.map((n) => slice(n, 0, 0)));
  const total = counts.reduce((sum, c) => sum + (c?.total ?? 0), 0);
  let skip = (q.page - 1) * q.limit;
  const data: Json[] = [];
  for (const [i, node] of nodes.entries()) {
    if (data.length >= q.limit) break;
    const n = counts[i]?.total ?? 0;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const got = await slice(node, skip, q.limit - data.length);
    data.push(...(got?.items ?? []));
    skip = 0;
  }
  const hasnext = (q.page - 1) * q.limit + data.length < total;
  return { data, meta: { page: q.page, limit: q.limit, count: total, hasnext } };
}

/** `GET /cluster`. */
export function clusterRoutes(cluster: ClusterView | null, name: string, self: string): Route[] {
  return [
    route({
      method: "GET",
      path: "/cluster",
      tag: "Cluster",
      summary: "The cluster's name, its running nodes and this node",
      responses: { 200: "{name, nodes, self}" },
      handle() {
        const nodes = cluster ? cluster.status().running : [self];
        return json({ name, nodes, self });
      },
    }),
  ];
}
