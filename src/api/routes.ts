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

/** One MQTT listener as GET /listeners shows it. */
export interface ListenerInfo {
  /** "tcp:default". */
  readonly id: string;
  readonly bind: string;
  readonly running: boolean;
  readonly currentConnections: number;
  readonly maxConnections: number;
}

/** What the routes are built from. */
export interface RouteDeps {
  readonly config: Config;
  readonly control: BrokerControl;
  readonly auth: ApiAuth;
  listeners(): ListenerInfo[];
  running(): boolean;
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
    ...clientRoutes(control, limits),
    ...publishRoutes(control, limits),
  ];
}
