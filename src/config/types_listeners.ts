/**
 * Config types of the listeners area (listeners.tcp/ssl/ws/wss.<name> and the two
 * mqtt.peer_cert_as_* keys), re-exported from types.ts. Owned by src/config/ with
 * _schema_listeners.ts, which builds them; nothing else constructs them.
 */

/** `enable_authn`: true, false, or EMQX's `quick_deny_anonymous`. */
import type { Rate } from "./types_auth.ts";

export type EnableAuthn = true | false | "quick_deny_anonymous";

/** One parsed `access_rules` entry: allow or deny an address range ("all" = every address). */
export interface AccessRule {
  readonly action: "allow" | "deny";
  /** The rule as written ("allow 10.0.0.0/8"), for logs. */
  readonly text: string;
  /** "all", or an IPv4/IPv6 address with a prefix length (a bare address is /32 or /128). */
  readonly cidr: "all" | { readonly address: string; readonly prefix: number };
}

/** Keys every listener type has. */
export interface ListenerCommonConfig {
  readonly enable: boolean;
  /** "host:port"; port 0 asks the OS for a free port (tests). */
  readonly bind: string;
  readonly host: string;
  readonly port: number;
  /** Open connections on this listener; further accepts are closed at once. */
  readonly maxConnections: number;
  /** New connections accepted per second on this listener; 0 = unlimited. */
  readonly maxConnRate: number;
  readonly backlog: number;
  /** The zone whose settings apply to this listener's clients (`zones.<name>`). */
  readonly zone: string;
  readonly enableAuthn: EnableAuthn;
  /** First match wins; no match allows (EMQX: `["allow all"]` is the default). */
  readonly accessRules: readonly AccessRule[];
  /** Whether each connection starts with a HAProxy PROXY header (v1 or v2). */
  readonly proxyProtocol: boolean;
  /** Time the PROXY header may take to arrive, ms. */
  readonly proxyProtocolTimeout: number;
  /** PUBLISH packets in per client (EMQX messages_rate); null = unlimited. */
  readonly messagesRate: Rate | null;
  /** Bytes in per client (EMQX bytes_rate); null = unlimited. */
  readonly bytesRate: Rate | null;
}

/** `listeners.tcp.<name>`. */
export type TcpListenerConfig = ListenerCommonConfig;

/** `ssl_options` of ssl and wss listeners. */
export interface SslOptionsConfig {
  readonly certfile: string;
  readonly keyfile: string;
  /** "" = no CA file (then verify_peer cannot be used). */
  readonly cacertfile: string;
  /** Passphrase of an encrypted key file; "" = none. */
  readonly password: string;
  readonly verify: "verify_none" | "verify_peer";
  readonly failIfNoPeerCert: boolean;
  /** Subset of "tlsv1.3", "tlsv1.2". */
  readonly versions: readonly ("tlsv1.3" | "tlsv1.2")[];
  /** Always empty: Deno's TLS stack cannot restrict cipher suites (the schema refuses others). */
  readonly ciphers: readonly string[];
  /** Time a TLS handshake may take, ms. */
  readonly handshakeTimeout: number;
}

/** `listeners.ssl.<name>`. */
export interface SslListenerConfig extends ListenerCommonConfig {
  readonly sslOptions: SslOptionsConfig;
}

/** `websocket` of ws and wss listeners. */
export interface WebsocketConfig {
  /** Path of the upgrade request, e.g. "/mqtt". */
  readonly mqttPath: string;
  /** Largest WebSocket frame payload accepted, bytes (infinity = mqtt.max_packet_size). */
  readonly maxFrameSize: number;
  readonly failIfNoSubprotocol: boolean;
  readonly supportedSubprotocols: readonly string[];
  readonly checkOriginEnable: boolean;
  readonly allowOriginAbsence: boolean;
  readonly checkOrigins: readonly string[];
  /** Header whose first address replaces the peer's (lower case); "" = none. */
  readonly proxyAddressHeader: string;
  /** Header whose value replaces the peer's port (lower case); "" = none. */
  readonly proxyPortHeader: string;
  /** Cookie of the upgrade request offered to authentication; "" = none (Culex's own key). */
  readonly authCookieName: string;
}

/** `listeners.ws.<name>`. */
export interface WsListenerConfig extends ListenerCommonConfig {
  readonly websocket: WebsocketConfig;
}

/** `listeners.wss.<name>`. */
export interface WssListenerConfig extends WsListenerConfig {
  readonly sslOptions: SslOptionsConfig;
}

/** `listeners`. */
export interface ListenersConfig {
  readonly tcp: Readonly<Record<string, TcpListenerConfig>>;
  readonly ssl: Readonly<Record<string, SslListenerConfig>>;
  readonly ws: Readonly<Record<string, WsListenerConfig>>;
  readonly wss: Readonly<Record<string, WssListenerConfig>>;
}

/** `mqtt.peer_cert_as_username` / `mqtt.peer_cert_as_clientid`. */
export type PeerCertAs = "disabled" | "cn" | "dn" | "crt" | "pem" | "md5";
