/**
 * One client's operations as EMQX answers them on any node of a cluster: show, kick, its
 * subscriptions, subscribe and unsubscribe on its behalf, for a client whose session is on this
 * node or on another one. This node answers first (no round trip for its own clients); when it
 * has no such client, every other running node is asked at once over the node links
 * (src/cluster/node_rpc.ts, methods `client.*`) and the first node in name order that has it
 * answers. A node that is down or does not answer within `cluster.request_timeout` counts as not
 * having it (logged), so "not found" is the answer only when no node that answered has it.
 * Used by the HTTP API (routes_clients.ts) and `culex ctl`. Owns nothing.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { NodeMethod, NodeMethods } from "../cluster/mod.ts";
import type { Json } from "../supervisor/broker_control.ts";
import type { ClusterView } from "./routes_cluster.ts";

/** The per-client operations (BrokerControl has them for this node). */
export interface ClientOps {
  /** One client, or null when no session has that id. */
  getClient(clientId: string): Promise<Json | null>;
  /** Disconnects a client and discards its session; false when unknown. */
  kickClient(clientId: string): Promise<boolean>;
  /** A client's subscriptions, or null when unknown. */
  clientSubscriptions(clientId: string): Promise<Json[] | null>;
  /** Subscribes on a client's behalf; the granted QoS per filter, or null when unknown. */
  subscribe(clientId: string, subscriptions: Json[]): Promise<number[] | null>;
  /** Unsubscribes on a client's behalf; a reason code per filter, or null when unknown. */
  unsubscribe(clientId: string, topics: string[]): Promise<number[] | null>;
}

/**
 * ClientOps over the cluster: `local` first, then the other running nodes. Without a cluster it
 * is `local` itself.
 */
export function clusterClientOps(
  cluster: ClusterView | null | undefined,
  local: ClientOps,
  log: Logger,
): ClientOps {
  if (!cluster) return local;
  /** The first non-null answer of the other nodes (in name order), or null. */
  const elsewhere = async <M extends NodeMethod>(
    method: M,
    params: NodeMethods[M]["params"],
  ): Promise<NodeMethods[M]["result"] | null> => {
    const others = cluster.status().running.filter((n) => n !== cluster.node);
    const answers = await Promise.all(others.map(async (node) => {
      try {
        return await cluster.ask(node, method, params);
      } catch (err) {
        log.warning("API: node {node} gave no answer to {method}: {error}", {
          node,
          method,
          error: err instanceof Error ? err.message : String(err),
        });
        return null;
      }
    }));
    return answers.find((a) => a !== null && a !== false) ?? null;
  };
  return {
    async getClient(clientid) {
      return await local.getClient(clientid) ?? await elsewhere("client.get", { clientid });
    },
    async kickClient(clientid) {
      if (await local.kickClient(clientid)) return true;
      return await elsewhere("client.kick", { clientid }) === true;
    },
    async clientSubscriptions(clientid) {
      return await local.clientSubscriptions(clientid) ??
        await elsewhere("client.subscriptions", { clientid });
    },
    async subscribe(clientid, subscriptions) {
      return await local.subscribe(clientid, subscriptions) ??
        await elsewhere("client.subscribe", { clientid, subscriptions });
    },
    async unsubscribe(clientid, topics) {
      return await local.unsubscribe(clientid, topics) ??
        await elsewhere("client.unsubscribe", { clientid, topics });
    },
  };
}

/**
 * Answers another node's `client.*` question from this node's ClientOps (never asking further:
 * the asking node asks every node itself); undefined when `method` is not one.
 */
export function serveClientOp(
  local: ClientOps,
  method: string,
  p: Json,
): Promise<unknown> | undefined {
  const id = p.clientid;
  if (!method.startsWith("client.")) return undefined;
  if (typeof id !== "string") return Promise.reject(new TypeError(`${method}: clientid`));
  switch (method) {
    case "client.get":
      return local.getClient(id);
    case "client.kick":
      return local.kickClient(id);
    case "client.subscriptions":
      return local.clientSubscriptions(id);
    case "client.subscribe":
      if (!Array.isArray(p.subscriptions)) {
        return Promise.reject(new TypeError("client.subscribe: subscriptions must be a list"));
      }
      return local.subscribe(id, p.subscriptions as Json[]);
    case "client.unsubscribe":
      if (!Array.isArray(p.topics) || !p.topics.every((t) => typeof t === "string")) {
        return Promise.reject(new TypeError("client.unsubscribe: topics must be strings"));
      }
      return local.unsubscribe(id, p.topics as string[]);
    default:
      return undefined;
  }
}
