/**
 * AuthzCache: the per-client authorization cache (EMQX `authorization.cache`): decisions for
 * at most `max_size` topics per client, each valid for `ttl`, all dropped when the rules reload
 * (generation) or the client goes. Owned by src/auth/. Pure data: the caller passes the clock.
 * A lookup allocates nothing: clients and topics are map keys, and the (action, qos, retain)
 * variants of one topic sit in a fixed array of slots.
 */

import { matchTopicWords } from "./acl_rule.ts";
import type { AuthzAction, AuthzClient, Decision } from "./types.ts";

/** Clients with cached decisions per shard; past it the least recently added client is dropped. */
export const MAX_CACHED_CLIENTS = 200_000;

/** 2 actions x 3 QoS x 2 retain flags. */
const SLOTS = 12;

interface ClientCache {
  readonly username: string | undefined;
  readonly peerhost: string;
  readonly generation: number;
  /** topic → decisions by slot; `expireAt` parallel. */
  readonly topics: Map<string, { decisions: (Decision | undefined)[]; expireAt: number[] }>;
}

/** Options of the cache, after the config schema. */
export interface AuthzCacheOptions {
  readonly maxSize: number;
  readonly ttl: number;
  /** Topic filters whose topics are never cached. */
  readonly excludes?: readonly string[];
}

function slotOf(a: AuthzAction): number {
  return (a.type === "publish" ? 0 : 6) + a.qos * 2 + (a.retain ? 1 : 0);
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

  #live(client: AuthzClient): ClientCache | undefined {
    const c = this.#clients.get(client.clientId);
    // A reconnect with the same client id but another username or address starts afresh.
    if (
      !c || c.generation !== this.#generation || c.username !== client.username ||
      c.peerhost !== client.peerhost
    ) return undefined;
    return c;
  }

  /** The cached decision, or undefined. */
  get(client: AuthzClient, action: AuthzAction, now: number): Decision | undefined {
    const t = this.#live(client)?.topics.get(action.topic);
    if (!t) return undefined;
    const slot = slotOf(action);
    const d = t.decisions[slot];
    if (d === undefined) return undefined;
    if ((t.expireAt[slot] as number) <= now) {
      t.decisions[slot] = undefined;
      return undefined;
    }
    return d;
  }

  /** Stores a decision (unless the topic is excluded). */
  put(client: AuthzClient, action: AuthzAction, decision: Decision, now: number): void {
    if (this.#excludes.length > 0) {
      const words = action.topic.split("/");
      if (this.#excludes.some((f) => matchTopicWords(words, f))) return;
    }
    let c = this.#live(client);
    if (!c) {
      this.#clients.delete(client.clientId);
      if (this.#clients.size >= MAX_CACHED_CLIENTS) {
        const oldest = this.#clients.keys().next().value;
        if (oldest !== undefined) this.#clients.delete(oldest);
      }
      c = {
        username: client.username,
        peerhost: client.peerhost,
        generation: this.#generation,
        topics: new Map(),
      };
      this.#clients.set(client.clientId, c);
    }
    let t = c.topics.get(action.topic);
    if (!t) {
      if (c.topics.size >= this.#maxSize) {
        const oldest = c.topics.keys().next().value;
        if (oldest !== undefined) c.topics.delete(oldest);
      }
      t = {
        decisions: new Array<Decision | undefined>(SLOTS),
        expireAt: new Array<number>(SLOTS).fill(0),
      };
      c.topics.set(action.topic, t);
    }
    const slot = slotOf(action);
    t.decisions[slot] = decision;
    t.expireAt[slot] = now + this.#ttl;
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

  /** Topics with cached decisions for a client (tests, the HTTP API later). */
  size(clientId: string): number {
    return this.#clients.get(clientId)?.topics.size ?? 0;
  }
}
