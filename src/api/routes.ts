/**
 * The route table of /api/v5: every resource group's routes, in one list that the Router
 * serves and openapi.ts documents.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { BrokerControl } from "../supervisor/broker_control.ts";
import type { ApiAuth } from "./auth.ts";
import type { Route } from "./router.ts";
import { loginRoutes } from "./routes_login.ts";
import { statusRoutes } from "./routes_status.ts";
import { clientRoutes } from "./routes_clients.ts";
import { publishRoutes } from "./routes_publish.ts";
import { apiKeyRoutes } from "./routes_api_key.ts";
import { bannedRoutes } from "./routes_banned.ts";
import { subscriptionRoutes } from "./routes_subs.ts";
import { type ListenerActionFn, type ListenerInfo, nodeRoutes } from "./routes_node.ts";
import { type ConfigChange, configRoutes } from "./routes_configs.ts";
export type { ConfigChange, ListenerActionFn, ListenerInfo };
import { authRoutes } from "./routes_auth.ts";
import { clusterLister, clusterRoutes, type ClusterView } from "./routes_cluster.ts";
import { getLogger } from "@logtape/logtape";
import { clusterClientOps } from "./client_ops.ts";
export type { ClusterView };

/** What the routes are built from. */
export interface RouteDeps {
  readonly config: Config;
  readonly control: BrokerControl;
  readonly auth: ApiAuth;
  listeners(): ListenerInfo[];
  readonly listenerAction?: ListenerActionFn;
  running(): boolean;
  /** Epoch ms when the node started. */
  readonly startedAt: number;
  readonly applyConfig?: (sets: readonly string[]) => Promise<ConfigChange>;
  /** The configuration in effect (changes with PUT /configs and SIGHUP). */
  readonly currentConfig?: () => Config;
  /** The cluster, when the node is clustered (GET /cluster, /nodes, /clients, /stats). */
  readonly cluster?: ClusterView | null;
}

/** Every route. */
export function allRoutes(deps: RouteDeps): Route[] {
  const { config, control } = deps;
  const limits = {
    maxTopicLevels: config.mqtt.maxTopicLevels,
    maxPacketSize: config.mqtt.maxPacketSize,
  };
  return [
    ...statusRoutes(config.node.name, deps.running),
    ...loginRoutes(deps.auth),
    ...clientRoutes(control, {
      ...limits,
      ops: clusterClientOps(deps.cluster, control, getLogger(["culex", "api"])),
      ...(deps.cluster
        ? {
          listClients: clusterLister(deps.cluster, control, getLogger(["culex", "api"]), "clients"),
        }
        : {}),
    }),
    ...clusterRoutes(deps.cluster ?? null, config.cluster.name, config.node.name),
    ...publishRoutes(control, limits),
    ...subscriptionRoutes(control, config.node.name, config.retainer, {
      ...(deps.cluster
        ? {
          listSubscriptions: clusterLister(
            deps.cluster,
            control,
            getLogger(["culex", "api"]),
            "subscriptions",
          ),
        }
        : {}),
    }),
    ...bannedRoutes(control),
    ...nodeRoutes(deps),
    ...apiKeyRoutes(deps.auth.keys),
    ...authRoutes(control, deps.currentConfig ?? (() => config)),
    ...configRoutes(deps.currentConfig ?? (() => config), deps.applyConfig),
  ];
}
