/**
 * Wires `culex ctl` to the running node: builds the CtlDeps of ctl.ts from the supervisor's
 * parts (its control plane, listeners, HTTP API) and starts the CtlServer on
 * `<node.data_dir>/culex.sock`. Private to src/supervisor/; holds no state of its own.
 *
 * @module
 */

import {
  addAdmin,
  type AdminRefusal,
  type ApiServer,
  clusterClientOps,
  removeAdmin,
  resetAdminPassword,
} from "../api/mod.ts";
import type { Config } from "../config/mod.ts";
import { getLogger } from "@logtape/logtape";
import { VERSION } from "../version.ts";
import type { BrokerControl } from "./broker_control.ts";
import { type CtlListener, runCtl } from "./ctl.ts";
import { CtlServer } from "./ctl_server.ts";
import type { ListenAddress, Listener } from "./listener.ts";
import type { ReloadResult } from "./reload.ts";
import type { Cluster } from "../cluster/mod.ts";
import type { ListenerAction, ListenerActionResult } from "./_listener_switch.ts";

/** What the node lends to its control socket. */
export interface NodeCtlParts {
  readonly control: BrokerControl;
  readonly startedAt: number;
  config(): Config;
  readonly addresses: ReadonlyMap<string, ListenAddress>;
  listeners(): readonly Listener[];
  stopping(): boolean;
  api(): ApiServer | null;
  cluster(): Cluster | undefined;
  readonly reload: (() => Promise<ReloadResult>) | null;
  listenerAction(id: string, action: ListenerAction): Promise<ListenerActionResult>;
  readonly requestStop: () => void;
}

/** Starts the control socket of the node; see the file header. */
export async function startNodeCtl(parts: NodeCtlParts): Promise<CtlServer> {
  const server = new CtlServer(
    parts.config().node.dataDir,
    (args) =>
      runCtl(args, {
        control: parts.control,
        clients: clusterClientOps(parts.cluster(), parts.control, getLogger(["culex", "ctl"])),
        nodeName: parts.config().node.name,
        version: VERSION,
        startedAt: parts.startedAt,
        config: parts.config,
        listeners: () => ctlListeners(parts),
        cluster: parts.cluster,
        reload: parts.reload,
        listenerAction: (id, action) => parts.listenerAction(id, action),
        admins: {
          add: (user, password, description) =>
            adminChange(parts.api(), (api) =>
              addAdmin(api.auth, { username: user, password, role: "administrator", description })),
          passwd: (user, password) =>
            adminChange(parts.api(), (api) =>
              resetAdminPassword(api.auth, user, password)),
          del: (user) =>
            adminChange(parts.api(), (api) => removeAdmin(api.auth, user)),
        },
      }),
    parts.requestStop,
  );
  await server.start();
  return server;
}

/** `ctl listeners`: every configured MQTT listener, running or not. */
function ctlListeners(parts: NodeCtlParts): CtlListener[] {
  const out: CtlListener[] = [];
  const all = parts.config().listeners as unknown as Record<
    string,
    Record<
      string,
      { enable: boolean; bind: string; proxyProtocol: boolean; maxConnections: number }
    >
  >;
  for (const [type, byName] of Object.entries(all)) {
    for (const [name, l] of Object.entries(byName)) {
      const id = `${type}:${name}`;
      const addr = parts.addresses.get(id);
      const live = parts.listeners().find((x) => x.name === id);
      const host = addr && addr.host.includes(":") ? `[${addr.host}]` : addr?.host;
      out.push({
        id,
        listenOn: addr ? `${host}:${addr.port}` : l.bind,
        proxyProtocol: l.proxyProtocol,
        enable: l.enable,
        running: addr !== undefined && !parts.stopping(),
        currentConn: live?.connectionCount ?? 0,
        maxConns: l.maxConnections,
      });
    }
  }
  return out;
}

/**
 * `ctl admins ...`: runs one change of src/api/admin_ops.ts and words a refusal as
 * emqx_dashboard_admin does (`username_not_found`, `username_already_exists`, the password rule's
 * sentence); null when done.
 */
async function adminChange(
  api: ApiServer | null,
  change: (api: ApiServer) => Promise<AdminRefusal | null>,
): Promise<string | null> {
  if (!api) return "the HTTP API is not running";
  const refused = await change(api);
  if (!refused) return null;
  switch (refused.code) {
    case "username_not_found":
    case "username_already_exists":
      return refused.code;
    case "bad_username":
      return refused.message === "Username cannot be empty"
        ? refused.message
        : `Bad Username. Only ${refused.message} are supported`;
    default:
      return refused.message;
  }
}
