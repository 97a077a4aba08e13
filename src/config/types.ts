/**
 * The validated configuration every other folder reads. Owned by src/config/: built by
 * loadConfig() and frozen; nothing else constructs or mutates it. Durations are milliseconds,
 * sizes are bytes, "infinity" in the YAML becomes 0 where a key says so.
 */

import type {
  AuthenticatorConfig,
  AuthorizationConfig,
  BannedConfig,
  FlappingDetectConfig,
} from "./types_auth.ts";
export type * from "./types_auth.ts";
import type { DurableSessionsConfig, RetainerConfig } from "./types_store.ts";
export type {
  DurableSessionsConfig,
  RetainerConfig,
  RetainerStorageType,
  StoreSync,
} from "./types_store.ts";
import type { ListenersConfig, PeerCertAs } from "./types_listeners.ts";
import type { ClusterConfig } from "./types_cluster.ts";
export type * from "./types_cluster.ts";
import type { ApiKeyConfig, DashboardConfig } from "./types_dashboard.ts";
export type * from "./types_dashboard.ts";
export type * from "./types_listeners.ts";

export type LogLevel = "debug" | "info" | "warning" | "error";

/** `log.*`: EMQX's console and file handlers; log.level is the default of both. */
export interface LogConfig {
  readonly level: LogLevel;
  readonly format: "text" | "json";
  readonly console: { readonly enable: boolean; readonly level: LogLevel };
  readonly file: {
    readonly enable: boolean;
    readonly level: LogLevel;
    /** Absolute after loadConfig (resolved as node.data_dir is). */
    readonly path: string;
    /** Bytes at which the file is rotated. */
    readonly rotationSize: number;
    /** Rotated files kept (culex.log.1 ... culex.log.N). */
    readonly rotationCount: number;
  };
}
export type DropPolicy = "drop_oldest" | "drop_newest";

export interface MqttConfig {
  readonly maxPacketSize: number;
  readonly maxClientidLen: number;
  readonly maxTopicLevels: number;
  readonly maxQosAllowed: 0 | 1 | 2;
  readonly maxTopicAlias: number;
  readonly retainAvailable: boolean;
  readonly wildcardSubscription: boolean;
  readonly sharedSubscription: boolean;
  /** Time a new connection may take to send CONNECT. */
  readonly idleTimeout: number;
  readonly keepaliveMultiplier: number;
  /** Upper bound for MQTT 5 Session Expiry Interval and the value for 3.x persistent sessions. */
  readonly sessionExpiryInterval: number;
  readonly maxInflight: number;
  readonly maxMqueueLen: number;
  readonly mqueueStoreQos0: boolean;
  readonly mqueueDropPolicy: DropPolicy;
  readonly maxAwaitingRel: number;
  readonly awaitRelTimeout: number;
  readonly retryInterval: number;
  readonly upgradeQos: boolean;
  /** Subscriptions per client; 0 = unlimited. */
  readonly maxSubscriptions: number;
  /** MQTT 5 Server Keep Alive in seconds that overrides the client's; 0 = use the client's. */
  readonly serverKeepalive: number;
  /** Longest keepalive a client may use (seconds); longer or 0 is capped to it. 0 = no cap. */
  readonly maxKeepalive: number;
  /** MQTT 5 Response Information sent when a client requests it; "" = none. */
  readonly responseInformation: string;
  /** Bytes of a connection's packets held while an asynchronous decision is pending. */
  readonly maxHeldBytes: number;
  /** TLS listeners: the client certificate's field used as username (`disabled` = none). */
  readonly peerCertAsUsername: PeerCertAs;
  /** TLS listeners: the client certificate's field used as client id (`disabled` = none). */
  readonly peerCertAsClientid: PeerCertAs;
}

export type SharedStrategy = "random" | "round_robin" | "sticky" | "hash_clientid" | "hash_topic";

export interface BrokerConfig {
  /** How a shared subscription group picks the member that gets a message. */
  readonly sharedSubscriptionStrategy: SharedStrategy;
}

export interface SysTopicsConfig {
  /** Interval of the $SYS/brokers/{node}/... stats and metrics messages; 0 = off. */
  readonly sysMsgInterval: number;
  readonly clientConnected: boolean;
  readonly clientDisconnected: boolean;
}

export interface DelayedConfig {
  readonly enable: boolean;
  /** Pending delayed messages in the whole broker; 0 = unlimited. */
  readonly maxDelayedMessages: number;
  /** Longest delay accepted, ms. */
  readonly maxDelayInterval: number;
}

/** Idle garbage collection per isolate (src/idle_gc.ts). */
export interface ForceGcConfig {
  readonly enable: boolean;
  /** How often each isolate looks at its heap, ms. */
  readonly interval: number;
  /** Heap growth since the last full collection that is worth collecting, bytes. */
  readonly heapGrowth: number;
  /** Work per second (ring records, socket reads) under which an isolate counts as quiet. */
  readonly quietRate: number;
  /** After a collection, give the C heap's free pages back (glibc malloc_trim; needs --allow-ffi). */
  readonly trimNative: boolean;
}

export interface Config {
  readonly node: {
    readonly name: string;
    /** Shard workers; resolved from 0 (= number of cores) at load time, always >= 1. */
    readonly shards: number;
    /**
     * Directory of the store file (absolute after loadConfig: a relative node.data_dir is
     * resolved against the --config file's directory, else the current directory).
     */
    readonly dataDir: string;
    /** `node.cookie`: the cluster links' shared secret (never logged, never on the wire). */
    readonly cookie: string;
  };
  readonly cluster: ClusterConfig;
  readonly log: LogConfig;
  readonly listeners: ListenersConfig;
  readonly mqtt: MqttConfig;
  readonly retainer: RetainerConfig;
  readonly durableSessions: DurableSessionsConfig;
  readonly broker: BrokerConfig;
  readonly sysTopics: SysTopicsConfig;
  readonly delayed: DelayedConfig;
  readonly forceGc: ForceGcConfig;
  /** The authentication chain, in order; [] = anonymous access (EMQX semantics). */
  readonly authentication: readonly AuthenticatorConfig[];
  readonly authorization: AuthorizationConfig;
  readonly banned: BannedConfig;
  readonly flappingDetect: FlappingDetectConfig;
  /** zones.<name>: overrides; resolve with zoneConfig(config, name). */
  readonly zones: Readonly<Record<string, ZoneOverrides>>;
  /** The HTTP API and dashboard server. */
  readonly dashboard: DashboardConfig;
  readonly apiKey: ApiKeyConfig;
  readonly ipc: {
    /** Bytes per ring (power of two); records of any size cross it, in pieces when large. */
    readonly ringSize: number;
  };
  /** Deprecation notices about the given keys, for the CLI to log once at start. */
  readonly warnings: readonly string[];
}

/** What a zone may override (each key optional: a zone is merged over the global values). */
export interface ZoneOverrides {
  readonly mqtt?: Partial<MqttConfig>;
  readonly flappingDetect?: Partial<FlappingDetectConfig>;
  readonly forceGc?: Partial<ForceGcConfig>;
}

/** A zone after resolution: every value set. */
export interface ResolvedZone {
  readonly mqtt: MqttConfig;
  readonly flappingDetect: FlappingDetectConfig;
  readonly forceGc: ForceGcConfig;
}
