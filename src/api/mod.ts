/**
 * Public API of src/api/: the HTTP API and dashboard server (EMQX's /api/v5 on port 18083).
 * The supervisor starts it beside the MQTT listeners; it reaches the broker only through
 * BrokerControl.
 *
 * @module
 */

export {
  adminFilePath,
  type ApiDeps,
  type ApiServer,
  bindApi,
  type BoundApi,
  startApi,
} from "./server.ts";
export type { ClusterView, ListenerInfo } from "./routes.ts";
export { nodeInfo } from "./node_info.ts";
export { type ClientOps, clusterClientOps, serveClientOp } from "./client_ops.ts";
export {
  type AdminStore,
  type AdminUser,
  FileAdminStore,
  MemoryAdminStore,
} from "./admin_store.ts";
export { ADMIN_GROUP, StoreAdminStore } from "./admin_store_durable.ts";
// `culex ctl admins add|passwd|del` applies the API's rules.
export { weakPassword } from "./_password.ts";
export { addAdmin, type AdminRefusal, removeAdmin, resetAdminPassword } from "./admin_ops.ts";
