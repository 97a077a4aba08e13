/**
 * AuthnChain: EMQX's authentication chain (emqx_authn_chains do_authenticate). Authenticators
 * run in order; ignore asks the next; the first allow or deny decides; all ignore is a deny
 * (0x87 not authorized); an empty chain (none configured or all disabled) lets everyone in
 * anonymously. Owned by src/auth/. Synchronous while the authenticators answer from memory;
 * never rejects (a throwing authenticator counts as ignore).
 */

import { log } from "./_backend.ts";
import { createAuthenticator } from "./authn_factory.ts";
import { AuthMetrics } from "./metrics.ts";
import {
  type Authenticator,
  type AuthnAnswer,
  type AuthnResult,
  type ClientInfo,
  type MaybePromise,
  RC_NOT_AUTHORIZED,
} from "./types.ts";
import type { AuthDeps } from "./deps.ts";
import type { EnhancedAuthMethod } from "./enhanced.ts";
import type { AuthenticatorConfig } from "../config/types_auth.ts";

const ANONYMOUS: AuthnResult = { result: "allow", superuser: false, anonymous: true };

/** The chain of one shard. */
export class AuthnChain {
  readonly metrics: AuthMetrics;
  readonly #list: readonly Authenticator[];
  readonly #enhanced: readonly EnhancedAuthMethod[];

  constructor(
    list: readonly Authenticator[],
    metrics = new AuthMetrics(),
    enhanced: readonly EnhancedAuthMethod[] = [],
  ) {
    this.#list = list;
    this.metrics = metrics;
    this.#enhanced = enhanced;
  }

  /** The authenticators in order. */
  get authenticators(): readonly Authenticator[] {
    return this.#list;
  }

  /** MQTT 5 enhanced methods (SCRAM) to register in the shard's EnhancedAuthRegistry. */
  get enhancedMethods(): readonly EnhancedAuthMethod[] {
    return this.#enhanced;
  }

  /** True when no authenticator is configured: everyone is allowed in as anonymous. */
  get isEmpty(): boolean {
    return this.#list.length === 0 && this.#enhanced.length === 0;
  }

  /**
   * Authenticates one client. Returns synchronously unless an authenticator needs I/O.
   *
   * @example
   * ```ts
   * import { createAuthenticationChain } from "./authn_chain.ts";
   * const chain = createAuthenticationChain([]);
   * import assert from "node:assert/strict";
   * const r = chain.authenticate({ clientId: "c", peerhost: "127.0.0.1", peerport: 1,
   *   listener: "tcp:default", zone: "default", protocolVersion: 5 });
   * assert.equal((await r).result, "allow"); // anonymous: no authenticator configured
   * ```
   */
  authenticate(info: ClientInfo): MaybePromise<AuthnResult> {
    if (this.isEmpty) {
      this.metrics.inc("authentication.success");
      this.metrics.inc("authentication.success.anonymous");
      return ANONYMOUS;
    }
    return this.#from(0, info);
  }

  #from(i: number, info: ClientInfo): MaybePromise<AuthnResult> {
    for (; i < this.#list.length; i++) {
      const a = this.#list[i] as Authenticator;
      let answer: MaybePromise<AuthnAnswer>;
      try {
        answer = a.authenticate(info);
      } catch (e) {
        log.error(`authenticator ${a.id} threw: ${(e as Error).message}`);
        answer = { result: "ignore", reason: "authenticator error" };
      }
      if (answer instanceof Promise) {
        const next = i + 1;
        return answer.catch((e) => {
          log.error(`authenticator ${a.id} failed: ${(e as Error).message}`);
          return { result: "ignore", reason: "authenticator error" } as const;
        }).then((ans) => this.#count(a.id, ans) ?? this.#from(next, info));
      }
      const done = this.#count(a.id, answer);
      if (done) return done;
    }
    this.metrics.inc("authentication.failure");
    return {
      result: "deny",
      reasonCode: RC_NOT_AUTHORIZED,
      reason: "no authenticator accepted the client",
    };
  }

  /** Counts one answer; returns the final result, or undefined for ignore. */
  #count(id: string, ans: AuthnAnswer): AuthnResult | undefined {
    const m = this.metrics;
    m.inc(`authn.${id}.total`);
    if (ans.result === "ignore") {
      m.inc(`authn.${id}.nomatch`);
      return undefined;
    }
    if (ans.result === "allow") {
      m.inc(`authn.${id}.success`);
      m.inc("authentication.success");
    } else {
      m.inc(`authn.${id}.failed`);
      m.inc("authentication.failure");
    }
    return ans;
  }

  /** Releases every authenticator's pools and timers. */
  async close(): Promise<void> {
    await Promise.all(this.#list.map((a) => a.close().catch(() => {})));
  }
}

/**
 * Builds the chain of `configs` (disabled authenticators are left out). Backends connect lazily,
 * on their first request; built-in bootstrap files are read now (errors name the line).
 */
export function createAuthenticationChain(
  configs: readonly AuthenticatorConfig[],
  deps: AuthDeps = {},
): AuthnChain {
  const all = { ...deps, metrics: deps.metrics ?? new AuthMetrics() };
  const list: Authenticator[] = [];
  const enhanced: EnhancedAuthMethod[] = [];
  for (const cfg of configs) {
    if (!cfg.enable) continue;
    const made = createAuthenticator(cfg, all);
    if ("enhanced" in made) enhanced.push(...made.enhanced);
    else list.push(made);
  }
  return new AuthnChain(list, all.metrics, enhanced);
}
