/**
 * The state of one Channel and its transitions: connecting → (authenticating →) connected →
 * closed, with who the client is and what was agreed at CONNECT. Handlers read it through the
 * getters and change it only through the methods here, each of which checks the state it starts
 * from, so a handler cannot leave a connection half-changed. Private to src/shard/ (channel.ts
 * extends it). Fields are flat on purpose: every connection carries them (memory per idle
 * connection, docs/architecture.md).
 *
 * @module
 */

import type { IConnectPacket } from "../mqtt/mod.ts";
import type { ClientAcl, EnhancedAuthMethod } from "../auth/mod.ts";
import type { Session } from "./session.ts";
import type { Will } from "./will.ts";
import type { ClientFacts } from "./hooks.ts";

/** Lifecycle: waiting for CONNECT, in an AUTH exchange, connected, or closed. */
export type ChannelStateName = "connecting" | "authenticating" | "connected" | "closed";

/** An enhanced authentication exchange: the method, its state between steps, the CONNECT. */
export interface AuthExchange {
  readonly method: EnhancedAuthMethod;
  state: unknown;
  /** The CONNECT waiting for the exchange to succeed; null once connected. */
  pendingConnect: IConnectPacket | null;
}

/** What authentication handed over beyond "allowed" (JWT: the `acl` claim and `exp`). */
export interface AuthGrant {
  readonly acl?: ClientAcl | undefined;
  /** Epoch ms after which the connection is closed (MQTT 5: 0x87). */
  readonly expireAt?: number | undefined;
}

/** What a CONNECT settled, applied by {@linkcode ChannelState.establish}. */
export interface Established {
  readonly session: Session;
  /** Keepalive in seconds as agreed (the client's, capped, or MQTT 5 Server Keep Alive). */
  readonly keepalive: number;
  /** Silence allowed before the keepalive timeout, in ms (0 = none). */
  readonly keepaliveMs: number;
  readonly cleanStart: boolean;
  /** Largest packet the client accepts (MQTT 5 Maximum Packet Size); 0 = no limit. */
  readonly clientMaxPacketSize: number;
  /** The client's Topic Alias Maximum; 0 = it takes no aliases. */
  readonly clientTopicAliasMax: number;
  /** MQTT 5 Session Expiry Interval the CONNECT asked for, in seconds (for DISCONNECT's rule). */
  readonly connectSessionExpiry: number;
  /** Epoch ms of the CONNACK (the API's connected_at). */
  readonly connectedAt: number;
}

function stateError(what: string, state: ChannelStateName): never {
  throw new TypeError(`Cannot ${what} a channel that is ${state}`);
}

/** See the file header. */
export class ChannelState {
  #state: ChannelStateName = "connecting";
  #protocolVersion: 3 | 4 | 5 = 4;
  #clientId = "";
  #assignedId = false;
  #username: string | undefined = undefined;
  #superuser = false;
  /** Made only when authentication granted more than a yes (most connections: null). */
  #grant: AuthGrant | null = null;
  #auth: AuthExchange | null = null;
  #session: Session | null = null;
  #will: Will | null = null;
  #keepalive = 0;
  #keepaliveMs = 0;
  #cleanStart = true;
  /**
   * What hooks are told about this connection (Channel.facts()), made once and kept until a
   * transition below changes a fact: the authorize hook asks for it on every PUBLISH.
   */
  protected cachedFacts: ClientFacts | null = null;
  #clientMaxPacketSize = 0;
  #clientTopicAliasMax = 0;
  #connectSessionExpiry = 0;
  #connectedAt = 0;

  get state(): ChannelStateName {
    return this.#state;
  }
  get protocolVersion(): 3 | 4 | 5 {
    return this.#protocolVersion;
  }
  get clientId(): string {
    return this.#clientId;
  }
  /** True when the broker assigned the client id (MQTT 5: sent back in CONNACK). */
  get assignedId(): boolean {
    return this.#assignedId;
  }
  get username(): string | undefined {
    return this.#username;
  }
  /** Authenticated as a superuser: authorization is skipped. */
  get superuser(): boolean {
    return this.#superuser;
  }
  /** The client's own ACL and credential expiry from authentication, if any. */
  get grant(): AuthGrant | null {
    return this.#grant;
  }
  /** The enhanced authentication exchange in use on this connection, if any. */
  get auth(): AuthExchange | null {
    return this.#auth;
  }
  get session(): Session | null {
    return this.#session;
  }
  get will(): Will | null {
    return this.#will;
  }
  get keepalive(): number {
    return this.#keepalive;
  }
  get keepaliveMs(): number {
    return this.#keepaliveMs;
  }
  get cleanStart(): boolean {
    return this.#cleanStart;
  }
  get clientMaxPacketSize(): number {
    return this.#clientMaxPacketSize;
  }
  get clientTopicAliasMax(): number {
    return this.#clientTopicAliasMax;
  }
  get connectSessionExpiry(): number {
    return this.#connectSessionExpiry;
  }
  get connectedAt(): number {
    return this.#connectedAt;
  }

  /** Re-reads the state: handlers may have closed the channel meanwhile. */
  isClosed(): boolean {
    return this.#state === "closed";
  }

  /** CONNECT read: who the client is (before authentication decides). */
  identify(who: {
    protocolVersion: 3 | 4 | 5;
    clientId: string;
    assigned: boolean;
    username: string | undefined;
  }): void {
    if (this.#state !== "connecting") stateError("identify", this.#state);
    this.#protocolVersion = who.protocolVersion;
    this.#clientId = who.clientId;
    this.#assignedId = who.assigned;
    this.#username = who.username;
    this.cachedFacts = null;
  }

  /** Authentication allowed the client, possibly as a superuser, with what else it granted. */
  authenticated(superuser: boolean, grant?: AuthGrant): void {
    if (this.#state === "closed") stateError("authenticate", this.#state);
    this.#superuser = superuser;
    if (grant && (grant.acl !== undefined || grant.expireAt !== undefined)) this.#grant = grant;
    this.cachedFacts = null;
  }

  /** An enhanced authentication exchange starts (CONNECT or AUTH 0x19). */
  beginAuth(exchange: AuthExchange): void {
    if (this.#state === "closed") stateError("authenticate", this.#state);
    this.#auth = exchange;
  }

  /** The exchange sent a challenge: only AUTH or DISCONNECT are accepted until it ends. */
  awaitAuthStep(): void {
    if (this.#state === "connecting") this.#state = "authenticating";
  }

  /** The will accepted at CONNECT, or none (a normal DISCONNECT discards it [MQTT-3.1.2-10]). */
  setWill(will: Will | null): void {
    this.#will = will;
  }

  /** Hands the will over (to be published or delayed) and forgets it. */
  takeWill(): Will | null {
    const w = this.#will;
    this.#will = null;
    return w;
  }

  /** CONNACK accepted: the connection is bound to its session. */
  establish(e: Established): void {
    if (this.#state !== "connecting" && this.#state !== "authenticating") {
      stateError("establish", this.#state);
    }
    this.#session = e.session;
    this.#keepalive = e.keepalive;
    this.#keepaliveMs = e.keepaliveMs;
    this.#cleanStart = e.cleanStart;
    this.#clientMaxPacketSize = e.clientMaxPacketSize;
    this.#clientTopicAliasMax = e.clientTopicAliasMax;
    this.#connectSessionExpiry = e.connectSessionExpiry;
    this.#connectedAt = e.connectedAt;
    this.#state = "connected";
    this.cachedFacts = null;
  }

  /** The connection ends: nothing more is read or sent. Returns the session it was bound to. */
  protected markClosed(): Session | null {
    this.#state = "closed";
    return this.#session;
  }
}
