/**
 * createAuthenticator(): the one switch from an authenticator config to its Authenticator (or,
 * for SCRAM, to the enhanced methods the shard registers). Owned by src/auth/. In-memory
 * authenticators are built at once; networked ones load their module (and driver) on first use.
 */

import { log } from "./_backend.ts";
import { BuiltinAuthenticator, SimpleAuthenticator } from "./authn/local.ts";
import { JwtAuthenticator } from "./authn/jwt.ts";
import { ScramMethod } from "./authn/scram.ts";
import { AuthMetrics } from "./metrics.ts";
import { MemoryUserStore } from "./user_store.ts";
import type { EnhancedAuthMethod } from "./enhanced.ts";
import type { Authenticator, AuthnAnswer, ClientInfo } from "./types.ts";
import type { AuthDeps } from "./deps.ts";
import type { AuthenticatorConfig } from "../config/types_auth.ts";

type Networked = Extract<
  AuthenticatorConfig,
  { backend: "redis" | "postgresql" | "mysql" | "mongodb" | "ldap" | "http" }
>;

/** Builds one authenticator, or the enhanced methods of a SCRAM config. */
export function createAuthenticator(
  cfg: AuthenticatorConfig,
  deps: AuthDeps,
): Authenticator | { enhanced: EnhancedAuthMethod[] } {
  const store = deps.userStore ?? new MemoryUserStore();
  switch (cfg.mechanism) {
    case "simple":
      return new SimpleAuthenticator(cfg);
    case "jwt":
      return new JwtAuthenticator(cfg);
    case "scram":
      return { enhanced: [new ScramMethod(cfg, store)] };
    case "password_based":
      if (cfg.backend === "built_in_database") return new BuiltinAuthenticator(cfg, store);
      return new LazyAuthenticator(cfg, deps.metrics ?? new AuthMetrics(), deps.shards);
  }
}

/** A networked authenticator whose module loads on the first request. */
class LazyAuthenticator implements Authenticator {
  readonly id: string;
  #inner: Authenticator | null = null;
  #loading: Promise<Authenticator | null> | null = null;
  readonly #load: () => Promise<Authenticator>;

  constructor(cfg: Networked, metrics: AuthMetrics, shards?: number) {
    this.id = `password_based:${cfg.backend}`;
    this.#load = async () => {
      const m = await import("./authn/backends.ts");
      switch (cfg.backend) {
        case "redis":
          return m.redisAuthenticator(cfg, metrics, shards);
        case "postgresql":
        case "mysql":
          return m.sqlAuthenticator(cfg, metrics, shards);
        case "mongodb":
          return m.mongoAuthenticator(cfg, metrics, shards);
        case "ldap":
          return m.ldapAuthenticator(cfg, metrics, shards);
        case "http":
          return m.httpAuthenticator(cfg, metrics, shards);
      }
    };
  }

  authenticate(info: ClientInfo): AuthnAnswer | Promise<AuthnAnswer> {
    if (this.#inner) return this.#inner.authenticate(info);
    this.#loading ??= this.#load().then((a) => (this.#inner = a), (e) => {
      log.error(`authenticator ${this.id} could not load: ${(e as Error).message}`);
      this.#loading = null;
      return null;
    });
    return this.#loading.then((a) =>
      a ? a.authenticate(info) : { result: "ignore", reason: "authenticator unavailable" }
    );
  }

  async close(): Promise<void> {
    const a = this.#inner ?? (this.#loading ? await this.#loading : null);
    await a?.close();
  }
}
