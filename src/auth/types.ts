/**
 * The shapes every security decision module shares: who a client is (ClientInfo), what an
 * authenticator answers, what an authorization source answers, and what the modules need from
 * their host (AuthDeps). Owned by src/auth/. Types only: no state, no I/O, nothing about
 * channels, rings or sockets.
 */

import type { AclRule } from "./acl_rule.ts";
import type { AuthzAction, ClientInfo } from "./client.ts";

export type { AuthzAction, ClientInfo } from "./client.ts";

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
