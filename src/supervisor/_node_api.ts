/**
 * Wires the HTTP API and the dashboard to the running node: builds the ApiDeps of src/api/ from
 * the supervisor's parts and starts serving on the listeners bound early (bindApi). Private to
 * src/supervisor/ (as _node_ctl.ts is for `culex ctl`); holds no state of its own.
 *
 * @module
 */

import {
  type ApiServer,
  type BoundApi,
  type ListenerInfo,
  startApi,
  StoreAdminStore,
} from "../api/mod.ts";
import type { Config } from "../config/types.ts";
import type { Cluster } from "../cluster/mod.ts";
import { serveDashboard } from "../dashboard/serve.ts";
import type { StoreClient } from "../store/mod.ts";
import type { BrokerControl } from "./broker_control.ts";
import type { ListenerAction, ListenerActionResult } from "./_listener_switch.ts";
import type { ReloadResult } from "./reload.ts";
import type { StartSupervisorOptions } from "./supervisor_types.ts";

/** What the node (the Supervisor) lends to its HTTP API. */
export interface ApiNode {
  readonly config: Config;
  readonly control: BrokerControl;
  readonly cluster: Cluster | undefined;
  listenerAction(
    id: string,
    action: ListenerAction,
    idempotent?: boolean,
  ): Promise<ListenerActionResult>;
  applyConfig(next: Config): Promise<ReloadResult>;
}

/** What else the API needs of the supervisor's parts. */
export interface ApiNodeParts {
  listeners(): ListenerInfo[];
  readonly reloadSource: StartSupervisorOptions["reloadSource"];
  readonly storeClient: StoreClient | null;
}

/** Starts the node's HTTP API on `bound`; see the file header. */
export async function startNodeApi(
  node: ApiNode,
  parts: ApiNodeParts,
  bound: BoundApi | undefined,
): Promise<ApiServer> {
  const storeClient = parts.storeClient;
  return await startApi({
    config: node.config,
    // The default admin's password hash (PBKDF2, 50-80 ms of a core) waits for the first use
    // of the admins, not beside the start's first clients (src/api/_admin_gate.ts).
    seedLazily: true,
    control: node.control,
    listeners: () => parts.listeners(),
    dashboard: serveDashboard,
    currentConfig: () => node.config,
    cluster: node.cluster ?? null,
    // The API sets a wanted state (EMQX's enable flag): repeating it is not an error.
    listenerAction: (id, action) => node.listenerAction(id, action, true),
    ...(parts.reloadSource
      ? {
        applyConfig: (sets: readonly string[]) => node.applyConfig(parts.reloadSource!(sets)),
      }
      : {}),
    // Admins live in the durable store's users table (group "dashboard").
    ...(storeClient ? { admins: await StoreAdminStore.open(storeClient) } : {}),
  }, bound);
}
