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
  AuthMetrics,
  type AuthnResult,
  type AuthzClient,
  type BanEntry,
  type Banned,
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
  readonly #deps: SecurityDeps;
  readonly #flapping: FlappingDetector;

  constructor(deps: SecurityDeps) {
    this.#deps = deps;
    const { config, clock, hooks } = deps;
    this.banned = createBanned(config.banned, () => clock.now());
    this.#flapping = new FlappingDetector(
      zoneConfig(config, "default").flappingDetect,
      this.banned,
    );
    const authDeps = {
      shards: deps.shards,
      metrics: this.metrics,
      userStore: new MemoryUserStore(),
      now: () => clock.now(),
    };
    const chain = createAuthenticationChain(config.authentication, authDeps);
    for (const m of chain.enhancedMethods) deps.authMethods.register(m);
    if (chain.authenticators.length > 0) {
      hooks.add("client.authenticate", function authenticate(c: ClientFacts, cred: Credentials) {
        const r = chain.authenticate(clientInfo(c, cred.password));
        return r instanceof Promise ? r.then(authnStep) : authnStep(r);
      }, { name: "authentication" });
    }
    const authz = createAuthorizer(config.authorization, authDeps);
    if (authz.sources.length > 0 || authz.noMatch === "deny") {
      // A Channel keeps its facts until one changes, so the client as the authorizer sees it is
      // made once per connection, not per PUBLISH (nor is its peer address split again).
      const clients = new WeakMap<ClientFacts, AuthzClient>();
      hooks.add("client.authorize", function authorize(c: ClientFacts, action: AuthzAction) {
        let client = clients.get(c);
        if (!client) {
          client = { ...clientInfo(c), superuser: c.superuser, acl: c.acl };
          clients.set(c, client);
        }
        const d = authz.authorize(client, action);
        return d instanceof Promise ? d.then(verdictStep) : verdictStep(d);
      }, { name: "authorization" });
    }
    hooks.add("client.disconnected", (c: ClientFacts) => {
      authz.clientClosed(c.clientId);
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

  /** A ban on this client (id, user name, address) refuses its CONNECT (MQTT 5: 0x8A). */
  admit(c: ClientFacts): PublishVerdict | null {
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
