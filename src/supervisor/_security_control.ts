/**
 * SecurityControl: the built-in authenticator's users and the built-in authorization source's
 * rules as BrokerControl changes them. Every shard holds all of them (shard 0 answers the
 * reads); the store keeps them across restarts (docs/store.md): loaded at start, changed there
 * before they are in force (rules: after the shards accepted them). Private to src/supervisor/;
 * owns the store's security tables port (SecurityStore) once attached.
 *
 * @module
 */

import type { StoredUser } from "../auth/mod.ts";
import type { StoreClient } from "../store/mod.ts";
import type { ShardRpc } from "./shard_rpc.ts";
import { SecurityStore } from "./_security_store.ts";
import { type Json, type Paged, paged, pageOf, type PageQuery, type ShardPage } from "./_paging.ts";

/** See the file header. */
export class SecurityControl {
  readonly #rpc: ShardRpc;
  /** Built-in users and ACL rules kept in the store (null before attachStore). */
  #security: SecurityStore | null = null;

  constructor(rpc: ShardRpc) {
    this.#rpc = rpc;
  }

  /**
   * Keeps users and rules in `store` from now on and loads the ones kept there onto every shard:
   * users only with a built-in authenticator (`userIdType`), rules only with the built-in source
   * (`aclRules`). Returns how many users and rule sets were loaded.
   */
  async load(
    store: StoreClient,
    opts: { userIdType?: "username" | "clientid" | null; aclRules?: boolean },
  ): Promise<{ users: number; aclRules: number }> {
    this.#security = new SecurityStore(store, opts.userIdType ?? "username");
    const users = opts.userIdType ? await this.#security.users() : [];
    for (const user of users) await this.#rpc.gather("authn.users.put", { user });
    const ruleSets = opts.aclRules ? await this.#security.ruleSets() : [];
    for (const r of ruleSets) {
      await this.#rpc.gather("authz.rules.set", { kind: r.kind, who: r.who, rules: r.rules });
    }
    return { users: users.length, aclRules: ruleSets.length };
  }

  /** Users of the built-in database authenticator (every shard holds all: shard 0 answers). */
  async users(query: PageQuery & { filter?: Json }): Promise<Paged<Json>> {
    const { page, limit } = pageOf(query);
    const p = await this.#rpc.call<ShardPage>(0, "authn.users.list", {
      ...query.filter,
      offset: (page - 1) * limit,
      limit,
    });
    return paged(p.items, page, limit, p.total);
  }

  /** One built-in user `{user_id, is_superuser}`, or null. */
  user(userId: string): Promise<Json | null> {
    return this.#rpc.call(0, "authn.users.get", { user_id: userId });
  }

  /** Adds or replaces a built-in user (already hashed) on every shard. */
  async putUser(user: StoredUser): Promise<void> {
    await this.#security?.putUser(user); // kept before it is in force
    await this.#rpc.gather("authn.users.put", { user });
  }

  /** Removes a built-in user from every shard; false when there was none. */
  async deleteUser(userId: string): Promise<boolean> {
    await this.#security?.deleteUser(userId);
    const r = await this.#rpc.gather<boolean>("authn.users.delete", { user_id: userId });
    return r.some((x) => x);
  }

  /** Usernames or client ids with built-in authorization rules, paged. */
  async rules(
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
  rule(kind: "username" | "clientid" | "all", who: string): Promise<Json[] | null> {
    return this.#rpc.call(0, "authz.rules.get", { kind, who });
  }

  /** Replaces rules on every shard (validate before: a bad rule fails every shard). */
  async setRules(kind: "username" | "clientid" | "all", who: string, rules: Json[]) {
    await this.#rpc.gather("authz.rules.set", { kind, who, rules });
    // After the shards accepted them (they validate): a bad rule is never stored.
    await this.#security?.setRules(kind, kind === "all" ? "" : who, rules);
  }

  /** Removes rules on every shard; false when there were none. */
  async deleteRules(kind: "username" | "clientid" | "all", who: string): Promise<boolean> {
    await this.#security?.deleteRules(kind, kind === "all" ? "" : who);
    const r = await this.#rpc.gather<boolean>("authz.rules.delete", { kind, who });
    return r.some((x) => x);
  }
}
