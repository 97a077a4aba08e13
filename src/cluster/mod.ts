/**
 * Public API of src/cluster/ (issue 15): the node links, the state they replicate, discovery.
 * Lives in the supervisor isolate; the supervisor imports from here only.
 */

export {
  Cluster,
  type ClusterHost,
  type PeerStatus,
  splitAddress,
  type Target,
} from "./cluster.ts";
export { seedTarget, startDiscovery } from "./discovery.ts";
export { startMcast } from "./mcast.ts";
export { retainClear } from "./heal.ts";
export { type NodeMethod, type NodeMethods, NodeRequestError } from "./node_rpc.ts";
