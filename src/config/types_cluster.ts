/**
 * Config types of the cluster keys (issue 15): `node.cookie` and `cluster.*` with EMQX's names.
 * Owned by src/config/ (built by _schema_cluster.ts, frozen by loadConfig); re-exported from
 * types.ts. Nothing else constructs these.
 */

import type { SslOptionsConfig } from "./types_listeners.ts";

/**
 * `cluster.discovery_strategy`. `singleton` (EMQX's name for "no cluster") is Culex's default:
 * a lone broker opens no cluster port nobody asked for.
 */
export type DiscoveryStrategy =
  | "singleton"
  | "manual"
  | "static"
  | "dns"
  | "mcast"
  | "etcd"
  | "k8s";

/** `cluster.k8s.address_type`: how an endpoint becomes a host to dial. */
export type K8sAddressType = "ip" | "dns" | "hostname";

/** `cluster.dns.record_type`. */
export type DnsRecordType = "a" | "aaaa" | "srv";

export interface ClusterConfig {
  /** `cluster.name`: links between nodes of different clusters are refused. */
  readonly name: string;
  readonly discoveryStrategy: DiscoveryStrategy;
  /** `cluster.listen`: where peer links are accepted. */
  readonly listen: { readonly bind: string; readonly host: string; readonly port: number };
  /** Heartbeat period on every link, ms. */
  readonly heartbeatInterval: number;
  /** A link silent this long is closed and redialled, ms. */
  readonly heartbeatTimeout: number;
  /** How long a down node's routes are kept before they are removed, ms. */
  readonly autoclean: number;
  /** How long a connect waits for the other nodes to hand over a session, ms. */
  readonly takeoverTimeout: number;
  /**
   * `cluster.ssl_options`: TLS on every node link (both ways: a node presents `certfile` when it
   * dials too); null = plain TCP.
   */
  readonly sslOptions: SslOptionsConfig | null;
  /** How long a question to another node (API, ctl) waits for its answer, ms. */
  readonly requestTimeout: number;
  /** How long a cleared retained topic is remembered against older copies from peers, ms. */
  readonly retainTombstoneTtl: number;
  /** Most cleared retained topics remembered (the oldest are forgotten first). */
  readonly retainTombstoneMax: number;
  /** Peers' client registry entries kept (`cluster.registry_max`). */
  readonly registryMax: number;
  /** `cluster.mcast.*` (EMQX 4.x's names; EMQX 5 dropped mcast). */
  readonly mcast: {
    /** Multicast group announcements go to. */
    readonly addr: string;
    /** UDP ports: announcements go to each; this node listens on the first it can bind. */
    readonly ports: readonly number[];
    /** Local interface address the group is joined on and sent from ("0.0.0.0": the default). */
    readonly iface: string;
    readonly ttl: number;
    /** Whether this host's own announcements come back to its listeners (IP_MULTICAST_LOOP). */
    readonly loop: boolean;
  };
  /** Bytes a link may hold unsent before this node's clients stop being read. */
  readonly maxSendQueue: number;
  /** `cluster.static.seeds`: "name@host" or "name@host:port" (port 4370 when left out). */
  readonly staticSeeds: readonly string[];
  readonly dns: {
    readonly name: string;
    readonly recordType: DnsRecordType;
    /** "ip" or "ip:port"; empty: the system's resolver. */
    readonly nameservers: readonly string[];
  };
  readonly etcd: {
    /** Endpoints, "http://host:port"; the first that answers is used. */
    readonly server: readonly string[];
    readonly prefix: string;
    /** Lease time of this node's key, ms. */
    readonly nodeTtl: number;
  };
  readonly k8s: {
    /** "https://kubernetes.default.svc:443". */
    readonly apiserver: string;
    readonly serviceName: string;
    readonly addressType: K8sAddressType;
    readonly namespace: string;
    /** Domain suffix of `dns` and `hostname` addresses ("pod.local" in EMQX's default). */
    readonly suffix: string;
  };
  /** How often dns, etcd and k8s are asked again, ms. */
  readonly discoveryInterval: number;
}
