/**
 * Public API of src/supervisor/: startSupervisor() and the types around it. main.ts imports from
 * here only. Everything that touches a socket lives behind this module.
 */

export { startSupervisor, type StartSupervisorOptions, type Supervisor } from "./supervisor.ts";
export type {
  AcceptHandler,
  ListenAddress,
  Listener,
  SocketHandlers,
  SocketPort,
  TransportInfo,
} from "./listener.ts";
export { Admission, type AdmissionLimits } from "./listener.ts";
export {
  createListeners,
  NetListener,
  type NetListenerOptions,
  TcpListener,
} from "./listener_net.ts";
export { fnv1a32, ShardPool, type ShardPoolOptions } from "./shard_pool.ts";
export { checkConfigFiles, type ReloadResult } from "./reload.ts";
