/**
 * The security modules of src/auth/ attached to one shard: bans checked at CONNECT, the
 * authentication chain on `client.authenticate`, authorization on `client.authorize`, flapping
 * detection on `client.disconnected`, and the built-in users and SCRAM methods. Each shard holds
 * its own chain, authorizer, ban list and detector (isolates share nothing); a ban decided here
 * (flapping) is reported to the supervisor, which adds it everywhere (the `banned.add` control
 * method brings it back to every shard, which also kicks the clients it covers). Owns those
 * objects; the decisions are src/auth/'s.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  AclStore,
  type AuthDeps,
  AuthMetrics,
  type AuthnChain,
  type AuthnResult,
  type Authorizer,
  type AuthzClient,
  type BanEntry,
  type Banned,
  builtinMaxRules,
  type ClientInfo,
  createAuthenticationChain,
  createAuthorizer,
  createBanned,
  type EnhancedAuthRegistry,
  FlappingDetector,
  MemoryUserStore,
} from "../auth/mod.ts";
import type { Config } from "../config/types.ts";
import { zoneConfig } from "../config/mod.ts";
import { ReasonCode } from "../mqtt/mod.ts";
import type { Clock } from "./clock.ts";
import type {
  AuthnDecision,
  AuthzAction,
  AuthzDecision,
  ClientFacts,
  Credentials,
  FoldStep,
  HookCallbacks,
  Hooks,
  PublishVerdict,
} from "./hooks.ts";

/** A live connection a new ban may cover. */
export interface BannableChannel {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly peer: string;
  disconnect(reasonCode: number, reason: string): void;
}

/** What the security wiring needs from its shard. */
export interface SecurityDeps {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly hooks: Hooks;
  readonly authMethods: EnhancedAuthRegistry;
  /** Shards in the node (backend pools are split among them). */
  readonly shards: number;
  /** Every live connection of this shard (to kick those a new ban covers). */
  liveChannels(): Iterable<BannableChannel>;
  /** Reports a ban decided here (flapping) so the supervisor adds it on every isolate. */
  reportBan(entry: BanEntry): void;
}

/** "ip:port" → [ip, port] (IPv6 in brackets or not). */
export function splitPeer(peer: string): [string, number] {
  const at = peer.lastIndexOf(":");
  const host = at < 0 ? peer : peer.slice(0, at);
  const port = at < 0 ? 0 : Number(peer.slice(at + 1));
  return [host.replace(/^\[|\]$/g, ""), port];
}

/** What authentication is told about a client. */
function clientInfo(c: ClientFacts, password?: Uint8Array): ClientInfo {
  const [peerhost, peerport] = splitPeer(c.peer);
  return {
    clientId: c.clientId,
    username: c.username,
    password,
    peerhost,
    peerport,
    listener: c.listener,
    zone: c.zone,
    protocolVersion: c.protocolVersion,
    certCommonName: c.certCommonName,
    certSubject: c.certSubject,
    cookie: c.cookie,
  };
}

const stop = <T>(value: T): FoldStep<T> => ({ stop: true, value });
const ALLOW_STEP: FoldStep<AuthzDecision> = stop("allow");
const DENY_STEP: FoldStep<AuthzDecision> = stop("deny");
const verdictStep = (v: "allow" | "deny"): FoldStep<AuthzDecision> =>
  v === "allow" ? ALLOW_STEP : DENY_STEP;

function authnStep(r: AuthnResult): FoldStep<AuthnDecision> {
  if (r.result === "deny") return stop(r);
  return stop({
    result: "allow",
    superuser: r.superuser,
    ...(r.expireAt !== undefined ? { expireAt: r.expireAt } : {}),
    ...(r.acl !== undefined ? { acl: r.acl } : {}),
  });
}

/** A shard's security; see the file header. */

export class ShardSecurity {
  readonly metrics = new AuthMetrics();
  readonly banned: Banned;
  /** Users of the built-in database authenticators (the HTTP API changes them on every shard). */
  readonly userStore = new MemoryUserStore();
  /** Rules of the built_in_database authorization source (likewise). */
  readonly aclStore: AclStore;
  readonly #deps: SecurityDeps;
  readonly #flapping: FlappingDetector;
  readonly #authDeps: AuthDeps;
  #chain: AuthnChain | null = null;
  #authz: Authorizer | null = null;
  #authnHook: HookCallbacks["client.authenticate"] | null = null;
  #authzHook: HookCallbacks["client.authorize"] | null = null;

  constructor(deps: SecurityDeps) {
    this.#deps = deps;
    const { config, clock, hooks } = deps;
    this.banned = createBanned(config.banned, () => clock.now());
    this.#flapping = new FlappingDetector(
      zoneConfig(config, "default").flappingDetect,
      this.banned,
    );
    this.aclStore = new AclStore(builtinMaxRules(config.authorization.sources));
    // One user store and one rule store for the shard's life: a reload rebuilds the chain and
    // the sources around them, so the users and rules the API added stay.
    this.#authDeps = {
      shards: deps.shards,
      metrics: this.metrics,
      userStore: this.userStore,
      aclStore: this.aclStore,
      now: () => clock.now(),
    };
    this.#installAuthn(config);
    this.#installAuthz(config);
    hooks.add("client.disconnected", (c: ClientFacts) => {
      this.#authz?.clientClosed(c.clientId);
      const ban = this.#flapping.recordDisconnect(c.clientId, clock.now());
      if (ban) {
        deps.log.warn("Client {clientId} is flapping: banned until {until}", {
          clientId: c.clientId,
          until: new Date(ban.until).toISOString(),
        });
        deps.reportBan(ban);
      }
    }, { name: "flapping" });
  }

  /**
   * A run-time config change: the authenticators are rebuilt when `authentication` changed,
   * the authorization sources when `authorization` changed or a file source is configured (its
   * ACL file is re-read). The old backends are closed in the background; connections stay.
   */
  reconfigure(previous: Config, next: Config): void {
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(previous.authentication, next.authentication)) this.#installAuthn(next);
    const hasFile = next.authorization.sources.some((s) => s.enable && s.type === "file");
    if (hasFile || !same(previous.authorization, next.authorization)) this.#installAuthz(next);
  }

  #installAuthn(config: Config): void {
    const { hooks, authMethods, log } = this.#deps;
    const chain = createAuthenticationChain(config.authentication, this.#authDeps);
    const old = this.#chain;
    if (this.#authnHook) hooks.remove("client.authenticate", this.#authnHook);
    this.#authnHook = null;
    this.#chain = chain;
    for (const m of chain.enhancedMethods) authMethods.register(m);
    if (chain.authenticators.length > 0) {
      this.#authnHook = function authenticate(c: ClientFacts, cred: Credentials) {
        const r = chain.authenticate(clientInfo(c, cred.password));
        return r instanceof Promise ? r.then(authnStep) : authnStep(r);
      };
      hooks.add("client.authenticate", this.#authnHook, { name: "authentication" });
    }
    old?.close().catch((err) => log.warn("Closing old authenticators: {err}", { err }));
  }

  #installAuthz(config: Config): void {
    const { hooks, log } = this.#deps;
    // The rule store outlives a reload; its bound follows the running configuration.
    this.aclStore.maxRules = builtinMaxRules(config.authorization.sources);
    const authz = createAuthorizer(config.authorization, this.#authDeps);
    const old = this.#authz;
    if (this.#authzHook) hooks.remove("client.authorize", this.#authzHook);
    this.#authzHook = null;
    this.#authz = authz;
    if (authz.sources.length > 0 || authz.noMatch === "deny") {
      // A Channel keeps its facts until one changes, so the client as the authorizer sees it is
      // made once per connection, not per PUBLISH (nor is its peer address split again).
      const clients = new WeakMap<ClientFacts, AuthzClient>();
      this.#authzHook = function authorize(c: ClientFacts, action: AuthzAction) {
        let client = clients.get(c);
        if (!client) {
          client = { ...clientInfo(c), superuser: c.superuser, acl: c.acl };
          clients.set(c, client);
        }
        const d = authz.authorize(client, action);
        return d instanceof Promise ? d.then(verdictStep) : verdictStep(d);
      };
      hooks.add("client.authorize", this.#authzHook, { name: "authorization" });
    }
    old?.close().catch((err) => log.warn("Closing old authorization sources: {err}", { err }));
  }

  /** A ban on this client (id, user name, address) refuses its CONNECT (MQTT 5: 0x8A). */
  admit(c: ClientFacts): PublishVerdict | null {
    if (this.banned.empty) return null;
    const [peerhost] = splitPeer(c.peer);
    const ban = this.banned.isBanned({ clientId: c.clientId, username: c.username, peerhost });
    if (!ban) return null;
    this.metrics.inc("authentication.failure");
    return { reasonCode: ReasonCode.Banned, reason: `banned (${ban.as} ${ban.who})` };
  }

  /** A ban added anywhere in the node: keep it, and kick the live clients it covers. */
  applyBan(entry: BanEntry): void {
    // JSON carried `until: Infinity` (no end) as null.
    const until = typeof entry.until === "number" ? entry.until : Infinity;
    this.banned.add({ ...entry, until });
    for (const ch of [...this.#deps.liveChannels()]) {
      const [peerhost] = splitPeer(ch.peer);
      if (this.banned.isBanned({ clientId: ch.clientId, username: ch.username, peerhost })) {
        // 0x8A is a CONNACK code only: a live client is kicked as an administrative action
        // (DISCONNECT 0x98), as EMQX kicks a client banned while connected.
        ch.disconnect(ReasonCode.AdministrativeAction, "banned");
      }
    }
  }
}
