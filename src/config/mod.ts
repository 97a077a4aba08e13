/**
 * Public surface of src/config/: loadConfig(), ConfigError, the Config types and the schema.
 * Other folders import from here only, never from load.ts, schema.ts or the _ files.
 */

export { loadConfig } from "./load.ts";
export type { LoadOptions } from "./load.ts";
export { ConfigError } from "./errors.ts";
export type { ConfigErrorInit } from "./errors.ts";
export { configSchema } from "./schema.ts";
export type { ConfigInput } from "./schema.ts";
export { parseDuration, parseSize } from "./_fields.ts";
export { zoneConfig } from "./zones.ts";
export type * from "./types_auth.ts";
export type {
  Config,
  DropPolicy,
  DurableSessionsConfig,
  LogConfig,
  LogLevel,
  MqttConfig,
  ResolvedZone,
  RetainerConfig,
  RetainerStorageType,
  StoreSync,
  TcpListenerConfig,
  ZoneOverrides,
} from "./types.ts";
// Listeners area (issue 12).
export type {
  AccessRule,
  EnableAuthn,
  ListenerCommonConfig,
  ListenersConfig,
  PeerCertAs,
  SslListenerConfig,
  SslOptionsConfig,
  WebsocketConfig,
  WsListenerConfig,
  WssListenerConfig,
} from "./types_listeners.ts";
export { parseAccessRule } from "./_schema_listeners.ts";
// Cluster area (issue 15).
export type {
  ClusterConfig,
  DiscoveryStrategy,
  DnsRecordType,
  K8sAddressType,
} from "./types_cluster.ts";
// HTTP API and dashboard (issue 14).
export type * from "./types_dashboard.ts";
