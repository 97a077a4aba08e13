/**
 * The shapes every security decision module shares: who a client is (ClientInfo), what an
 * authenticator answers, what an authorization source answers, and what the modules need from
 * their host (AuthDeps). Owned by src/auth/. Types only: no state, no I/O, nothing about
 * channels, rings or sockets.
 */

import type { AclRule } from "./acl_rule.ts";
import type { AuthMetrics } from "./metrics.ts";
import type { AclStore } from "./authz/file.ts";
import type { UserStore } from "./user_store.ts";

/** What the broker knows about a connecting client, as handed to authentication. */
export interface ClientInfo {
  readonly clientId: string;
  readonly username?: string | undefined;
  readonly password?: Uint8Array | undefined;
  /** Peer IP address as text ("127.0.0.1", "::1"). */
  readonly peerhost: string;
  readonly peerport: number;
  /** Listener id "<type>:<name>", e.g. "tcp:default". */
  readonly listener: string;
  /** The listener's zone ("default" unless it names one). */
  readonly zone: string;
  /** 3, 4 or 5. */
  readonly protocolVersion: number;
  readonly certCommonName?: string | undefined;
  readonly certSubject?: string | undefined;
  /** A browser cookie offered by a WebSocket upgrade (cookie authentication). */
  readonly cookie?: string | undefined;
  readonly isSuperuser?: boolean | undefined;
}

/** MQTT 5 reason codes an authentication deny carries (v3 maps them to CONNACK 4 / 5). */
export const RC_BAD_USERNAME_OR_PASSWORD = 0x86;
export const RC_NOT_AUTHORIZED = 0x87;
export const RC_BAD_AUTHENTICATION_METHOD = 0x8c;

/** A client's own ACL handed over by authentication (JWT `acl` claim, HTTP `acl` field). */
export type ClientAcl = readonly AclRule[];

/** Authentication allowed the client. */
export interface AuthnAllow {
  readonly result: "allow";
  readonly superuser: boolean;
  /** True when no authenticator was configured (EMQX counts these apart). */
  readonly anonymous?: boolean;
  readonly clientAttrs?: Readonly<Record<string, string>>;
  /** Rules checked before every authorization source (EMQX's client-info source). */
  readonly acl?: ClientAcl;
  /** Epoch milliseconds after which the client must be disconnected (JWT exp, HTTP expire_at). */
  readonly expireAt?: number;
}

/** Authentication refused the client. */
export interface AuthnDeny {
  readonly result: "deny";
  /** MQTT 5 reason code: 0x86, 0x87 or 0x8C. */
  readonly reasonCode: number;
  /** Text for the log (never contains the password). */
  readonly reason: string;
}

/** What the chain answers. */
export type AuthnResult = AuthnAllow | AuthnDeny;

/** What one authenticator answers: a result, or ignore (ask the next one). */
export type AuthnAnswer = AuthnResult | { readonly result: "ignore"; readonly reason: string };

/** A value now, or later. Decisions that need no I/O are returned synchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** One authenticator of the chain. */
export interface Authenticator {
  /** EMQX's authenticator id: "<mechanism>:<backend>" or "jwt". */
  readonly id: string;
  authenticate(info: ClientInfo): MaybePromise<AuthnAnswer>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** The action being authorized. */
export interface AuthzAction {
  readonly type: "publish" | "subscribe";
  /** Topic name (publish) or topic filter (subscribe; without the $share/ prefix, as EMQX). */
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

/** The client as authorization sees it: ClientInfo plus what authentication decided. */
export interface AuthzClient extends ClientInfo {
  readonly superuser: boolean;
  readonly acl?: ClientAcl | undefined;
}

/** The decision the caller acts on. */
export type Decision = "allow" | "deny";

/** What one authorization source answers. */
export type SourceAnswer = "allow" | "deny" | "nomatch";

/** One authorization source. */
export interface AuthzSource {
  /** EMQX's source type: file, built_in_database, redis, postgresql, mysql, mongodb, ldap, http. */
  readonly type: string;
  authorize(client: AuthzClient, action: AuthzAction): MaybePromise<SourceAnswer>;
  close(): Promise<void>;
}

/** The few things the host gives the security modules. */
export interface AuthDeps {
  /** Shards in this node: a backend pool per shard holds ceil(pool_size / shards) connections. */
  readonly shards?: number;
  /** Counters (one per shard; the host sums them). A fresh one is made when omitted. */
  readonly metrics?: AuthMetrics;
  /** Users of password_based:built_in_database and scram:built_in_database. */
  readonly userStore?: UserStore;
  /** Rules of the built_in_database authorization source (shared with the HTTP API later). */
  readonly aclStore?: AclStore;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}
