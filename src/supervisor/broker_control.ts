/**
 * BrokerControl: the node's control plane as the HTTP API, `culex ctl`, $SYS and (later) the
 * cluster links use it: clients (list with EMQX's filters and paging, details, kick,
 * subscriptions, subscribe and unsubscribe on a client's behalf), publish from outside a client,
 * stats and metrics summed over shards, subscriptions, topics and retained messages. Every
 * answer comes from the shards through ShardRpc: a request to the one shard that owns a client
 * id or a retained topic, or to all of them, gathered and paged here (its parts, private to
 * src/supervisor/: _paging.ts, _ban_control.ts for the ban list, _publish_across.ts). Owns no
 * broker state.
 *
 * @module
 */

import type { BanEntry, BanInput, Banned, StoredUser } from "../auth/mod.ts";
import type { StoreClient } from "../store/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";
import { StoredRetained } from "./retained_view.ts";
import { SecurityStore } from "./_security_store.ts";
import { StatsPeaks } from "./_stats_peaks.ts";
import { BanControl } from "./_ban_control.ts";
import { publishAcross, type PublishRequest } from "./_publish_across.ts";
import {
  type Json,
  MAX_PAGE_LIMIT,
  pageAcross,
  type Paged,
  paged,
  pageOf,
  type PageQuery,
  type ShardLists,
  type ShardPage,
  sliceAcross,
} from "./_paging.ts";

export { MAX_PAGE_LIMIT } from "./_paging.ts";
export type { Json, Paged, PageQuery, ShardPage } from "./_paging.ts";
export type { PublishRequest } from "./_publish_across.ts";

/** See the file header. */
export class BrokerControl {
  readonly #rpc: ShardRpc;
  readonly #shardOf: (key: string) => number;
  /** The ban list: the supervisor's copy, every shard's, and the store's. */
  readonly #bans: BanControl;
  /** The shards' lists, paged here. */
  readonly #lists: ShardLists;
  /** Set with `retainer.backend.storage_type: disc`: retained messages are read from the file. */
  #retained: StoredRetained | null = null;
  /** Built-in users and ACL rules kept in the store (null before attachStore). */
  #security: SecurityStore | null = null;
  /** The `<name>.max` high-water marks of stats(); sampled by the supervisor meanwhile. */
  readonly peaks = new StatsPeaks();
  /**
   * Told the topics whose retained messages the API or `ctl` deleted (the cluster sends their
   * clears to the other nodes, as for a client's empty retained PUBLISH, and has them on disc
   * when it returns, before the answer); null when alone.
   */
  retainedCleared: ((topics: readonly string[]) => void) | null = null;
  /** Counters kept outside the shards (the cluster's), merged into metrics(). */
  moreMetrics: (() => Record<string, number>) | null = null;

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
    this.#shardOf = shardOf;
    this.#bans = new BanControl(rpc, banned);
    this.#lists = { rpc, shards };
  }

  /**
   * Keeps bans in the store from now on, and loads the ones kept there: expired ones are
   * deleted, the others added here and on every shard. Call once at start, after the shards
   * are ready and before any listener opens. `retainedOnDisc`: answer the retained listings,
   * reads and deletes from the file (`retainer.backend.storage_type: disc`). `userIdType`: the
   * built-in authenticator's (users are loaded and kept only with one); `aclRules`: the
   * built-in authorization source is configured (its rules are loaded). Returns how many bans,
   * users and rule sets were loaded.
   */
  async attachStore(
    store: StoreClient,
    opts: {
      retainedOnDisc?: boolean;
      userIdType?: "username" | "clientid" | null;
      aclRules?: boolean;
      now?: number;
    } = {},
  ): Promise<{ bans: number; users: number; aclRules: number }> {
    const now = opts.now ?? Date.now();
    this.#bans.keepIn(store);
    if (opts.retainedOnDisc) this.#retained = new StoredRetained(store);
    this.#security = new SecurityStore(store, opts.userIdType ?? "username");
    const users = opts.userIdType ? await this.#security.users() : [];
    for (const user of users) await this.#rpc.gather("authn.users.put", { user });
    const ruleSets = opts.aclRules ? await this.#security.ruleSets() : [];
    for (const r of ruleSets) {
      await this.#rpc.gather("authz.rules.set", { kind: r.kind, who: r.who, rules: r.rules });
    }
    const bans = await this.#bans.load(store, now);
    return { bans, users: users.length, aclRules: ruleSets.length };
  }

  /** The node's bans (EMQX's GET /banned), expired ones dropped. */
  listBans(): BanEntry[] {
    return this.#bans.list();
  }

  /**
   * Adds a ban on every isolate of the node; connected clients it covers are kicked (MQTT 5:
   * 0x8A). Resolves with the entry, or `exists` when the same ban was already there.
   */
  addBan(input: BanInput): Promise<{ added: BanEntry } | { exists: BanEntry }> {
    return this.#bans.add(input);
  }

  /** Removes a ban everywhere; false when there was none. */
  deleteBan(as: BanEntry["as"], who: string): Promise<boolean> {
    return this.#bans.delete(as, who);
  }

  /** Clients of every shard, filtered (EMQX's GET /clients query) and paged. */
  listClients(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    return pageAcross(this.#lists, "clients.list", query, { filter: query.filter ?? {} });
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
  publish(
    messages: readonly PublishRequest[],
    source: "api" | "sys" = "api",
  ): Promise<number[]> {
    return publishAcross(this.#rpc, this.#shardOf, messages, source);
  }

  /**
   * EMQX's stats, summed over shards (topics are replicated: the largest view counts), with the
   * `<name>.max` high-water mark beside every `<name>.count` (_stats_peaks.ts).
   */
  async stats(): Promise<Record<string, number>> {
    const all = await this.#rpc.gather<Record<string, number>>("stats");
    const out: Record<string, number> = {};
    for (const s of all) {
      for (const [k, v] of Object.entries(s)) {
        out[k] = k === "topics.count" ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
      }
    }
    if (this.#retained) out["retained.count"] = await this.#retained.count();
    return this.peaks.apply(out);
  }

  /** EMQX's metrics, summed over shards. */
  async metrics(): Promise<Record<string, number>> {
    const all = await this.#rpc.gather<Record<string, number>>("metrics");
    const out: Record<string, number> = {};
    for (const m of all) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
    for (const [k, v] of Object.entries(this.moreMetrics?.() ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** Subscriptions of every client (EMQX's GET /subscriptions filters), paged. */
  listSubscriptions(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    return pageAcross(this.#lists, "subscriptions.list", query, { filter: query.filter ?? {} });
  }

  /**
   * The route table (every shard holds all of it: shard 0 answers). With `self` (this node's
   * name) the rows of every node, each `{topic, node}`; `node` keeps one node's.
   */
  async listTopics(
    query: PageQuery & { topic?: string; self?: string; node?: string },
  ): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const params = {
      offset: (page - 1) * limit,
      limit,
      ...(query.topic ? { topic: query.topic } : {}),
      ...(query.self ? { self: query.self } : {}),
      ...(query.node ? { node: query.node } : {}),
    };
    const p = await this.#rpc.call<ShardPage>(0, "topics.list", params);
    return paged(p.items, page, limit, p.total);
  }

  /** Retained messages of every shard (no payloads), paged. */
  async listRetained(query: PageQuery & { topic?: string }): Promise<Paged<Json>> {
    if (this.#retained) {
      const { page, limit } = pageOf(query);
      const p = await this.#retained.list((page - 1) * limit, limit, query.topic ?? null);
      return paged(p.items, page, limit, p.total);
    }
    return pageAcross(
      this.#lists,
      "retained.list",
      query,
      query.topic ? { topic: query.topic } : {},
    );
  }

  /** One retained message with its payload (base64), or null. */
  getRetained(topic: string): Promise<Json | null> {
    if (this.#retained) return this.#retained.get(topic);
    return this.#rpc.call(this.#shardOf(topic), "retained.get", { topic });
  }

  /** Deletes one retained message; false when there was none. */
  async deleteRetained(topic: string): Promise<boolean> {
    const had = this.#retained
      ? await this.#retained.delete(topic)
      : await this.#rpc.call<boolean>(this.#shardOf(topic), "retained.delete", { topic });
    if (had) this.retainedCleared?.([topic]);
    return had;
  }

  /** Deletes the retained messages matching `filter` (all with "#") on every shard; the count. */
  async cleanRetained(filter = "#"): Promise<number> {
    const topics = this.#retained
      ? await this.#retained.clean(filter)
      : (await this.#rpc.gather<string[]>("retained.clean", { topic: filter, list: true })).flat();
    if (topics.length > 0) this.retainedCleared?.(topics);
    return topics.length;
  }

  /** Hands a new Config to every shard (src/supervisor/reload.ts decides what it changes). */
  async updateConfig(config: unknown): Promise<void> {
    await this.#rpc.gather("config.update", { config });
  }

  /** Users of the built-in database authenticator (every shard holds all: shard 0 answers). */
  async authnUsers(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const p = await this.#rpc.call<ShardPage>(0, "authn.users.list", {
      ...query.filter,
      offset: (page - 1) * limit,
      limit,
    });
    return paged(p.items, page, limit, p.total);
  }

  /** One built-in user `{user_id, is_superuser}`, or null. */
  authnUser(userId: string): Promise<Json | null> {
    return this.#rpc.call(0, "authn.users.get", { user_id: userId });
  }

  /** Adds or replaces a built-in user (already hashed) on every shard. */
  async putAuthnUser(user: StoredUser): Promise<void> {
    await this.#security?.putUser(user); // kept before it is in force
    await this.#rpc.gather("authn.users.put", { user });
  }

  /** Removes a built-in user from every shard; false when there was none. */
  async deleteAuthnUser(userId: string): Promise<boolean> {
    await this.#security?.deleteUser(userId);
    const r = await this.#rpc.gather<boolean>("authn.users.delete", { user_id: userId });
    return r.some((x) => x);
  }

  /** Usernames or client ids with built-in authorization rules, paged. */
  async aclRules(
    kind: "username" | "clientid",
    query: PageQuery & { like?: string },
  ): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const p = await this.#rpc.call<ShardPage>(0, "authz.rules.list", {
      kind,
      offset: (page - 1) * limit,
      limit,
      ...(query.like === undefined ? {} : { like: query.like }),
    });
    return paged(p.items, page, limit, p.total);
  }

  /** The rules of one username / client id (`who` ignored for "all"), or null. */
  aclRule(kind: "username" | "clientid" | "all", who: string): Promise<Json[] | null> {
    return this.#rpc.call(0, "authz.rules.get", { kind, who });
  }

  /** Replaces rules on every shard (validate before: a bad rule fails every shard). */
  async setAclRules(kind: "username" | "clientid" | "all", who: string, rules: Json[]) {
    await this.#rpc.gather("authz.rules.set", { kind, who, rules });
    // After the shards accepted them (they validate): a bad rule is never stored.
    await this.#security?.setRules(kind, kind === "all" ? "" : who, rules);
  }

  /** Removes rules on every shard; false when there were none. */
  async deleteAclRules(kind: "username" | "clientid" | "all", who: string): Promise<boolean> {
    await this.#security?.deleteRules(kind, kind === "all" ? "" : who);
    const r = await this.#rpc.gather<boolean>("authz.rules.delete", { kind, who });
    return r.some((x) => x);
  }

  /**
   * Clients `offset` to `offset + limit` of the node, shards in order (GET /clients pages over
   * a cluster's nodes with it), and how many match in all; limit 0 answers the count only.
   */
  sliceClients(filter: Json, offset: number, limit: number): Promise<ShardPage> {
    return sliceAcross(
      this.#lists,
      "clients.list",
      { filter },
      offset,
      Math.min(limit, MAX_PAGE_LIMIT),
    );
  }

  /** The same for GET /subscriptions (its filter: clientid, topic, qos, share_group). */
  sliceSubscriptions(filter: Json, offset: number, limit: number): Promise<ShardPage> {
    const max = Math.min(limit, MAX_PAGE_LIMIT);
    return sliceAcross(this.#lists, "subscriptions.list", { filter }, offset, max);
  }
}
