/**
 * BrokerControl: the node's control plane as the HTTP API, `culex ctl`, $SYS and (later) the
 * cluster links use it: clients (list with EMQX's filters and paging, details, kick,
 * subscriptions, subscribe and unsubscribe on a client's behalf), publish from outside a client,
 * stats and metrics summed over shards, subscriptions, topics and retained messages. Every
 * answer comes from the shards through ShardRpc: a request to the one shard that owns a client
 * id or a retained topic, or to all of them, gathered and paged here (its parts, private to
 * src/supervisor/: _paging.ts, _ban_control.ts for the ban list, _publish_across.ts,
 * _retained_control.ts, _security_control.ts for built-in users and ACL rules). Owns no broker
 * state.
 *
 * @module
 */

import type { BanEntry, BanInput, Banned, StoredUser } from "../auth/mod.ts";
import type { StoreClient } from "../store/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";
import { RetainedControl } from "./_retained_control.ts";
import { SecurityControl } from "./_security_control.ts";
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
  /** Retained messages: from the shards, or from the file (disc retainer). */
  readonly #retained: RetainedControl;
  /** Built-in users and ACL rules, kept in the store once attached. */
  readonly #security: SecurityControl;
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
    this.#retained = new RetainedControl({
      rpc,
      lists: this.#lists,
      shardOf,
      cleared: (topics) => this.retainedCleared?.(topics),
    });
    this.#security = new SecurityControl(rpc);
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
    if (opts.retainedOnDisc) this.#retained.readFromDisc(store);
    const { users, aclRules } = await this.#security.load(store, opts);
    const bans = await this.#bans.load(store, now);
    return { bans, users, aclRules };
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
    const stored = this.#retained.count();
    if (stored) out["retained.count"] = await stored;
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
  listRetained(query: PageQuery & { topic?: string }): Promise<Paged<Json>> {
    return this.#retained.list(query);
  }

  /** One retained message with its payload (base64), or null. */
  getRetained(topic: string): Promise<Json | null> {
    return this.#retained.get(topic);
  }

  /** Deletes one retained message; false when there was none. */
  deleteRetained(topic: string): Promise<boolean> {
    return this.#retained.delete(topic);
  }

  /** Deletes the retained messages matching `filter` (all with "#") on every shard; the count. */
  cleanRetained(filter = "#"): Promise<number> {
    return this.#retained.clean(filter);
  }

  /** Hands a new Config to every shard (src/supervisor/reload.ts decides what it changes). */
  async updateConfig(config: unknown): Promise<void> {
    await this.#rpc.gather("config.update", { config });
  }

  /** Users of the built-in database authenticator (every shard holds all: shard 0 answers). */
  authnUsers(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    return this.#security.users(query);
  }

  /** One built-in user `{user_id, is_superuser}`, or null. */
  authnUser(userId: string): Promise<Json | null> {
    return this.#security.user(userId);
  }

  /** Adds or replaces a built-in user (already hashed) on every shard. */
  putAuthnUser(user: StoredUser): Promise<void> {
    return this.#security.putUser(user);
  }

  /** Removes a built-in user from every shard; false when there was none. */
  deleteAuthnUser(userId: string): Promise<boolean> {
    return this.#security.deleteUser(userId);
  }

  /** Usernames or client ids with built-in authorization rules, paged. */
  aclRules(
    kind: "username" | "clientid",
    query: PageQuery & { like?: string },
  ): Promise<Paged<Json>> {
    return this.#security.rules(kind, query);
  }

  /** The rules of one username / client id (`who` ignored for "all"), or null. */
  aclRule(kind: "username" | "clientid" | "all", who: string): Promise<Json[] | null> {
    return this.#security.rule(kind, who);
  }

  /** Replaces rules on every shard (validate before: a bad rule fails every shard). */
  setAclRules(kind: "username" | "clientid" | "all", who: string, rules: Json[]): Promise<void> {
    return this.#security.setRules(kind, who, rules);
  }

  /** Removes rules on every shard; false when there were none. */
  deleteAclRules(kind: "username" | "clientid" | "all", who: string): Promise<boolean> {
    return this.#security.deleteRules(kind, who);
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
