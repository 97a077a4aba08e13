/**
 * Authorizer: EMQX's authorization (emqx_authz). Superusers skip; then the client's own ACL from
 * authentication, then each enabled source in order; the first allow/deny decides, all nomatch
 * gives `no_match`. Decisions are cached per client (AuthzCache). Owned by src/auth/. Answers
 * synchronously whenever no source needs I/O (file rules, built-in rules, cache hits), with a
 * Promise otherwise; never rejects (a failing source counts as nomatch).
 */

import { evaluate } from "./acl_rule.ts";
import { AuthzCache } from "./authz_cache.ts";
import { createSource } from "./authz_sources.ts";
import { log } from "./_backend.ts";
import { AuthMetrics } from "./metrics.ts";
import type {
  AuthzAction,
  AuthzClient,
  AuthzSource,
  Decision,
  MaybePromise,
  SourceAnswer,
} from "./types.ts";
import type { AuthDeps } from "./deps.ts";
import type { AuthorizationConfig } from "../config/types_auth.ts";

/** Decides publish and subscribe requests for one shard. */
export class Authorizer {
  /** What to answer when nothing matched (`authorization.no_match`). */
  readonly noMatch: Decision;
  /** What the caller does on deny (`authorization.deny_action`): ignore or disconnect. */
  readonly denyAction: "ignore" | "disconnect";
  readonly metrics: AuthMetrics;
  readonly #sources: readonly AuthzSource[];
  readonly #cache: AuthzCache | null;
  readonly #now: () => number;

  constructor(
    config: AuthorizationConfig,
    sources: readonly AuthzSource[],
    deps: AuthDeps = {},
  ) {
    this.noMatch = config.noMatch;
    this.denyAction = config.denyAction;
    this.#sources = sources;
    this.metrics = deps.metrics ?? new AuthMetrics();
    this.#now = deps.now ?? Date.now;
    this.#cache = config.cache.enable ? new AuthzCache(config.cache) : null;
  }

  /** The sources in order (file sources expose reload()). */
  get sources(): readonly AuthzSource[] {
    return this.#sources;
  }

  /**
   * Decides `action` for `client`. Synchronous when the cache or in-memory sources answer.
   *
   * @example
   * ```ts
   * import { createAuthorizer } from "./authorizer.ts";
   * const authz = createAuthorizer({
   *   noMatch: "deny", denyAction: "ignore",
   *   cache: { enable: true, maxSize: 32, ttl: 60_000, excludes: [] },
   *   sources: [{ type: "file", enable: true, path: "", rules: `{allow, all, publish, ["t/#"]}.` }],
   * });
   * const client = { clientId: "c", peerhost: "127.0.0.1", peerport: 1, listener: "tcp:default",
   *   zone: "default", protocolVersion: 5, superuser: false };
   * import assert from "node:assert/strict";
   * assert.equal(await authz.authorize(client, { type: "publish", topic: "t/1", qos: 0, retain: false }), "allow");
   * ```
   */
  authorize(client: AuthzClient, action: AuthzAction): MaybePromise<Decision> {
    const m = this.metrics;
    if (client.superuser) {
      m.inc("authorization.superuser");
      m.inc("authorization.allow");
      return "allow";
    }
    const now = this.#now();
    if (this.#cache) {
      const hit = this.#cache.get(client, action, now);
      if (hit !== undefined) {
        m.inc("authorization.cache_hit");
        m.inc(hit === "allow" ? "authorization.allow" : "authorization.deny");
        return hit;
      }
      m.inc("authorization.cache_miss");
    }
    const words = action.topic.split("/");
    if (client.acl && client.acl.length > 0) {
      const a = evaluate(client.acl, client, action, words);
      if (a !== "nomatch") return this.#decide(client, action, a, true, now);
    }
    return this.#from(0, client, action, now);
  }

  /** Runs sources from index `i`; stays synchronous until a source answers with a Promise. */
  #from(i: number, client: AuthzClient, action: AuthzAction, now: number): MaybePromise<Decision> {
    for (; i < this.#sources.length; i++) {
      const source = this.#sources[i] as AuthzSource;
      let answer: MaybePromise<SourceAnswer>;
      try {
        answer = source.authorize(client, action);
      } catch (e) {
        log.error(`authorization source ${source.type} threw: ${(e as Error).message}`);
        answer = "nomatch";
      }
      if (answer instanceof Promise) {
        const next = i + 1;
        return answer.catch(() => "nomatch" as const).then((a) => {
          this.#countSource(source.type, a);
          return a === "nomatch"
            ? this.#from(next, client, action, now)
            : this.#decide(client, action, a, true, now);
        });
      }
      this.#countSource(source.type, answer);
      if (answer !== "nomatch") return this.#decide(client, action, answer, true, now);
    }
    this.metrics.inc("authorization.nomatch");
    return this.#decide(client, action, this.noMatch, false, now);
  }

  // Counter names built once per source type: no string is made per request.
  readonly #names = new Map<string, Record<SourceAnswer | "total", string>>();

  #countSource(type: string, a: SourceAnswer): void {
    let n = this.#names.get(type);
    if (!n) {
      const p = `authz.${type}.`;
      n = { total: p + "total", allow: p + "allow", deny: p + "deny", nomatch: p + "nomatch" };
      this.#names.set(type, n);
    }
    this.metrics.inc(n.total);
    this.metrics.inc(n[a]);
  }

  #decide(
    client: AuthzClient,
    action: AuthzAction,
    d: Decision,
    matched: boolean,
    now: number,
  ): Decision {
    const m = this.metrics;
    if (matched) {
      m.inc(d === "allow" ? "authorization.matched.allow" : "authorization.matched.deny");
    }
    m.inc(d === "allow" ? "authorization.allow" : "authorization.deny");
    this.#cache?.put(client, action, d, now);
    return d;
  }

  /** Forgets a client's cached decisions; call when its connection ends. */
  clientClosed(clientId: string): void {
    this.#cache?.dropClient(clientId);
  }

  /** Drops every cached decision (rules changed; `DELETE /authorization/cache`). */
  clearCache(): void {
    this.#cache?.clear();
  }

  /** Cached decisions held for a client. */
  cacheSize(clientId: string): number {
    return this.#cache?.size(clientId) ?? 0;
  }

  /**
   * Re-reads every file source and drops the cache. On a syntax error the old rules stay in
   * force and the SyntaxError (naming the line) is thrown.
   */
  reload(): void {
    for (const s of this.#sources) (s as { reload?: () => void }).reload?.();
    this.clearCache();
  }

  /** Closes every source's connections. */
  async close(): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.close().catch(() => {})));
  }
}

/**
 * Builds the Authorizer of `config` (disabled sources are left out). File sources read their
 * file now and throw a SyntaxError naming the line when it is invalid; backend sources connect
 * lazily, on their first request.
 */
export function createAuthorizer(config: AuthorizationConfig, deps: AuthDeps = {}): Authorizer {
  const all = { ...deps, metrics: deps.metrics ?? new AuthMetrics() };
  const sources = config.sources.filter((s) => s.enable).map((s) => createSource(s, all));
  return new Authorizer(config, sources, all);
}
