/**
 * AuthzCache: the per-client authorization cache (EMQX `authorization.cache`): at most
 * `max_size` decisions per client, each valid for `ttl`, all dropped when the rules reload
 * (generation) or the client goes. Owned by src/auth/. Pure data: the caller passes the clock.
 */

import { matchTopicWords } from "./acl_rule.ts";
import type { AuthzAction, AuthzClient, Decision } from "./types.ts";

/** Clients with cached decisions per shard; past it the least recently added client is dropped. */
export const MAX_CACHED_CLIENTS = 200_000;

interface Entry {
  readonly decision: Decision;
  readonly expireAt: number;
}

interface ClientCache {
  readonly identity: string;
  readonly generation: number;
  readonly entries: Map<string, Entry>;
}

/** Options of the cache, after the config schema. */
export interface AuthzCacheOptions {
  readonly maxSize: number;
  readonly ttl: number;
  /** Topic filters whose topics are never cached. */
  readonly excludes?: readonly string[];
}

/** Per-client bounded decision cache. */
export class AuthzCache {
  readonly #maxSize: number;
  readonly #ttl: number;
  readonly #excludes: readonly (readonly string[])[];
  readonly #clients = new Map<string, ClientCache>();
  #generation = 0;

  constructor(opts: AuthzCacheOptions) {
    this.#maxSize = opts.maxSize;
    this.#ttl = opts.ttl;
    this.#excludes = (opts.excludes ?? []).map((f) => f.split("/"));
  }

  /** The cached decision, or undefined. */
  get(client: AuthzClient, action: AuthzAction, now: number): Decision | undefined {
    const c = this.#clients.get(client.clientId);
    if (!c || c.generation !== this.#generation || c.identity !== identity(client)) {
      return undefined;
    }
    const key = keyOf(action);
    const e = c.entries.get(key);
    if (!e) return undefined;
    if (e.expireAt <= now) {
      c.entries.delete(key);
      return undefined;
    }
    return e.decision;
  }

  /** Stores a decision (unless the topic is excluded). */
  put(client: AuthzClient, action: AuthzAction, decision: Decision, now: number): void {
    if (this.#maxSize === 0) return;
    if (this.#excludes.length > 0) {
      const words = action.topic.split("/");
      if (this.#excludes.some((f) => matchTopicWords(words, f))) return;
    }
    const id = identity(client);
    let c = this.#clients.get(client.clientId);
    if (!c || c.generation !== this.#generation || c.identity !== id) {
      this.#clients.delete(client.clientId);
      if (this.#clients.size >= MAX_CACHED_CLIENTS) {
        const oldest = this.#clients.keys().next().value;
        if (oldest !== undefined) this.#clients.delete(oldest);
      }
      c = { identity: id, generation: this.#generation, entries: new Map() };
      this.#clients.set(client.clientId, c);
    }
    const key = keyOf(action);
    c.entries.delete(key);
    if (c.entries.size >= this.#maxSize) {
      const oldest = c.entries.keys().next().value;
      if (oldest !== undefined) c.entries.delete(oldest);
    }
    c.entries.set(key, { decision, expireAt: now + this.#ttl });
  }

  /** Forgets one client (call when its connection ends). */
  dropClient(clientId: string): void {
    this.#clients.delete(clientId);
  }

  /** Invalidates every entry (rules reloaded, `DELETE /authorization/cache`). */
  clear(): void {
    this.#generation++;
    this.#clients.clear();
  }

  /** Entries held for a client (tests, the HTTP API later). */
  size(clientId: string): number {
    return this.#clients.get(clientId)?.entries.size ?? 0;
  }
}

// A reconnect with the same client id but another username or address starts a new cache.
function identity(c: AuthzClient): string {
  return `${c.username ?? ""}\0${c.peerhost}`;
}

function keyOf(a: AuthzAction): string {
  return `${a.type === "publish" ? "p" : "s"}${a.qos}${a.retain ? 1 : 0}${a.topic}`;
}
