/**
 * BrokerControl: the node's control plane as the HTTP API, `culex ctl`, $SYS and (later) the
 * cluster links use it: clients (list with EMQX's filters and paging, details, kick,
 * subscriptions, subscribe and unsubscribe on a client's behalf), publish from outside a client,
 * stats and metrics summed over shards, subscriptions, topics and retained messages. Every
 * answer comes from the shards through ShardRpc: a request to the one shard that owns a client
 * id or a retained topic, or to all of them, gathered and paged here. Owns no broker state.
 *
 * @module
 */

import type { BanEntry, BanInput, Banned } from "../auth/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";

/** EMQX's paging query: page from 1, limit up to 10,000. */
export interface PageQuery {
  readonly page?: number;
  readonly limit?: number;
}

/** EMQX's paged answer. */
export interface Paged<T> {
  readonly data: T[];
  readonly meta: { page: number; limit: number; count: number; hasnext: boolean };
}

/** A JSON object as the shards answer it (EMQX's field names). */
export type Json = Record<string, unknown>;

interface ShardPage {
  readonly total: number;
  readonly items: Json[];
}

/** Largest page, as EMQX. */
export const MAX_PAGE_LIMIT = 10_000;
const DEFAULT_PAGE_LIMIT = 100;

/** One message of publish(): EMQX's POST /publish body, payload as text or base64. */
export interface PublishRequest {
  readonly topic: string;
  readonly payload?: string;
  readonly encoding?: "plain" | "base64";
  readonly qos?: number;
  readonly retain?: boolean;
  readonly message_expiry_interval?: number;
  /** MQTT 5 properties, EMQX's snake_case names (payload_format_indicator, content_type...). */
  readonly properties?: Readonly<Record<string, unknown>>;
  /** Who the message is from (EMQX: "http_api"). */
  readonly from?: string;
}

/** See the file header. */
export class BrokerControl {
  readonly #rpc: ShardRpc;
  readonly #shards: () => number;
  readonly #shardOf: (key: string) => number;
  readonly #banned: Banned;

  /**
   * `shardOf` maps a client id or a retained topic to the shard that owns it; `banned` is the
   * supervisor's copy of the ban list (every shard keeps its own, kept equal through here).
   */
  constructor(
    rpc: ShardRpc,
    shards: () => number,
    shardOf: (key: string) => number,
    banned: Banned,
  ) {
    this.#rpc = rpc;
    this.#shards = shards;
    this.#shardOf = shardOf;
    this.#banned = banned;
  }

  /** The node's bans (EMQX's GET /banned), expired ones dropped. */
  listBans(): BanEntry[] {
    this.#banned.purge();
    return this.#banned.list();
  }

  /**
   * Adds a ban on every isolate of the node; connected clients it covers are kicked (MQTT 5:
   * 0x8A). Resolves with the entry, or `exists` when the same ban was already there.
   */
  async addBan(input: BanInput): Promise<{ added: BanEntry } | { exists: BanEntry }> {
    const r = this.#banned.add(input);
    const entry = "added" in r ? r.added : r.exists;
    await this.#rpc.gather("banned.add", { entry });
    return r;
  }

  /** Removes a ban everywhere; false when there was none. */
  async deleteBan(as: BanEntry["as"], who: string): Promise<boolean> {
    const had = this.#banned.delete(as, who);
    await this.#rpc.gather("banned.delete", { as, who });
    return had;
  }

  /** Clients of every shard, filtered (EMQX's GET /clients query) and paged. */
  listClients(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    return this.#pageAcross("clients.list", query, { filter: query.filter ?? {} });
  }

  /** One client, or null when no session has that id. */
  getClient(clientId: string): Promise<Json | null> {
    return this.#rpc.call(this.#shardOf(clientId), "clients.get", { clientid: clientId });
  }

  /** Disconnects a client (MQTT 5: 0x98) and discards its session; false when unknown. */
  kickClient(clientId: string): Promise<boolean> {
    return this.#rpc.call(this.#shardOf(clientId), "clients.kick", { clientid: clientId });
  }

  /** A client's subscriptions, or null when unknown. */
  clientSubscriptions(clientId: string): Promise<Json[] | null> {
    return this.#rpc.call(this.#shardOf(clientId), "clients.subscriptions", {
      clientid: clientId,
    });
  }

  /** Subscribes on a client's behalf; the granted QoS per filter, or null when unknown. */
  subscribe(clientId: string, subscriptions: Json[]): Promise<number[] | null> {
    return this.#rpc.call(this.#shardOf(clientId), "clients.subscribe", {
      clientid: clientId,
      subscriptions,
    });
  }

  /** Unsubscribes on a client's behalf; a reason code per filter, or null when unknown. */
  unsubscribe(clientId: string, topics: string[]): Promise<number[] | null> {
    return this.#rpc.call(this.#shardOf(clientId), "clients.unsubscribe", {
      clientid: clientId,
      topics,
    });
  }

  /**
   * Publishes from outside a client (through `message.publish` like any other publish). Each
   * message goes to the shard its topic hashes to, so messages to one topic keep their order.
   * Answers one reason code per message, in order (0x00, 0x10 no matching subscribers, ...).
   */
  async publish(
    messages: readonly PublishRequest[],
    source: "api" | "sys" = "api",
  ): Promise<number[]> {
    const byShard = new Map<number, number[]>();
    messages.forEach((m, i) => {
      const shard = this.#shardOf(m.topic);
      const list = byShard.get(shard) ?? [];
      list.push(i);
      byShard.set(shard, list);
    });
    const codes: number[] = new Array(messages.length).fill(0);
    await Promise.all([...byShard].map(async ([shard, idx]) => {
      const answer = await this.#rpc.call<number[]>(shard, "publish", {
        source,
        messages: idx.map((i) => messages[i]),
      });
      idx.forEach((i, k) => codes[i] = answer[k] ?? 0x80);
    }));
    return codes;
  }

  /** EMQX's stats, summed over shards (topics are replicated: the largest view counts). */
  async stats(): Promise<Record<string, number>> {
    const all = await this.#rpc.gather<Record<string, number>>("stats");
    const out: Record<string, number> = {};
    for (const s of all) {
      for (const [k, v] of Object.entries(s)) {
        out[k] = k === "topics.count" ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
      }
    }
    return out;
  }

  /** EMQX's metrics, summed over shards. */
  async metrics(): Promise<Record<string, number>> {
    const all = await this.#rpc.gather<Record<string, number>>("metrics");
    const out: Record<string, number> = {};
    for (const m of all) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** Subscriptions of every client (EMQX's GET /subscriptions filters), paged. */
  listSubscriptions(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    return this.#pageAcross("subscriptions.list", query, { filter: query.filter ?? {} });
  }

  /** The route table (every shard holds all of it: shard 0 answers). */
  async listTopics(query: PageQuery & { topic?: string }): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const params = {
      offset: (page - 1) * limit,
      limit,
      ...(query.topic ? { topic: query.topic } : {}),
    };
    const p = await this.#rpc.call<ShardPage>(0, "topics.list", params);
    return paged(p.items, page, limit, p.total);
  }

  /** Retained messages of every shard (no payloads), paged. */
  listRetained(query: PageQuery & { topic?: string }): Promise<Paged<Json>> {
    return this.#pageAcross("retained.list", query, query.topic ? { topic: query.topic } : {});
  }

  /** One retained message with its payload (base64), or null. */
  getRetained(topic: string): Promise<Json | null> {
    return this.#rpc.call(this.#shardOf(topic), "retained.get", { topic });
  }

  /** Deletes one retained message; false when there was none. */
  deleteRetained(topic: string): Promise<boolean> {
    return this.#rpc.call(this.#shardOf(topic), "retained.delete", { topic });
  }

  /**
   * One page of a list spread over the shards, in shard order: first every shard's count (limit
   * 0), then the items from the shards the page falls on.
   */
  async #pageAcross(method: string, query: PageQuery, params: Json): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const counts = await this.#rpc.gather<ShardPage>(method, { ...params, offset: 0, limit: 0 });
    const total = counts.reduce((n, c) => n + c.total, 0);
    let skip = (page - 1) * limit;
    const data: Json[] = [];
    for (let shard = 0; shard < this.#shards() && data.length < limit; shard++) {
      const n = counts[shard]?.total ?? 0;
      if (skip >= n) {
        skip -= n;
        continue;
      }
      const want = limit - data.length;
      const p = await this.#rpc.call<ShardPage>(shard, method, {
        ...params,
        offset: skip,
        limit: want,
      });
      data.push(...p.items);
      skip = 0;
    }
    return paged(data, page, limit, total);
  }
}

function pageOf(q: PageQuery): { page: number; limit: number } {
  const page = Number.isInteger(q.page) && (q.page ?? 0) >= 1 ? q.page! : 1;
  const asked = Number.isInteger(q.limit) && (q.limit ?? 0) >= 1 ? q.limit! : DEFAULT_PAGE_LIMIT;
  return { page, limit: Math.min(asked, MAX_PAGE_LIMIT) };
}

function paged<T>(data: T[], page: number, limit: number, count: number): Paged<T> {
  return { data, meta: { page, limit, count, hasnext: (page - 1) * limit + data.length < count } };
}
