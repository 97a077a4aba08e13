/**
 * SecurityStore: the built-in authentication users and authorization rules of the HTTP API kept
 * in the durable store (issue 13), through the supervisor's port. BrokerControl commits a change
 * here before it spreads it to the shards, and reads everything back at start to hand it to
 * them. Users are stored under the built-in authenticator's `user_id_type`; rules as EMQX's REST
 * bodies. Owns nothing but the port's use; private to src/supervisor/.
 *
 * @module
 */

import type { StoredUser } from "../auth/mod.ts";
import {
  type AclRule,
  type AclRuleSet,
  type AclWhoType,
  isRefusal,
  StoreBatch,
  type StoreClient,
  StoreError,
  type UserRecord,
  type WireBatch,
} from "../store/mod.ts";

const PAGE = 1000;

/** One principal's rules as the shards take them (`authz.rules.set`). */
export interface StoredRuleSet {
  readonly kind: AclWhoType;
  readonly who: string;
  readonly rules: Record<string, unknown>[];
}

/** See the file header. */
export class SecurityStore {
  readonly #store: StoreClient;
  readonly #userIdType: "username" | "clientid";

  constructor(store: StoreClient, userIdType: "username" | "clientid") {
    this.#store = store;
    this.#userIdType = userIdType;
  }

  /** Adds or replaces a user (hash and salt as the authenticator made them). */
  putUser(u: StoredUser): Promise<void> {
    const b = new StoreBatch();
    b.user({
      userIdType: this.#userIdType,
      userId: u.userId,
      passwordHash: u.passwordHash ?? "",
      salt: u.salt ?? "",
      isSuperuser: u.isSuperuser,
    });
    return this.#commit(b.take());
  }

  deleteUser(userId: string): Promise<void> {
    const b = new StoreBatch();
    b.userDelete(this.#userIdType, userId);
    return this.#commit(b.take());
  }

  /** Replaces one principal's rules (`who` is "" for "all"). */
  setRules(
    kind: AclWhoType,
    who: string,
    rules: readonly Record<string, unknown>[],
  ): Promise<void> {
    const b = new StoreBatch();
    // Kept as the REST body gave them: the shards validate and compile them.
    b.acl(kind, who, rules as unknown as AclRule[]);
    return this.#commit(b.take());
  }

  deleteRules(kind: AclWhoType, who: string): Promise<void> {
    const b = new StoreBatch();
    b.aclDelete(kind, who);
    return this.#commit(b.take());
  }

  /** Every stored user of this user id type, page by page. */
  async users(): Promise<StoredUser[]> {
    const out: StoredUser[] = [];
    for (let afterId: string | null = null;;) {
      const page: UserRecord[] = await this.#store.readAsync({
        kind: "users",
        userIdType: this.#userIdType,
        afterId,
        limit: PAGE,
      });
      for (const u of page) {
        out.push({
          userId: u.userId,
          isSuperuser: u.isSuperuser,
          passwordHash: u.passwordHash,
          salt: u.salt,
        });
      }
      if (page.length < PAGE) return out;
      afterId = page[page.length - 1]!.userId;
    }
  }

  /** Every stored rule set: "all" first, then usernames and client ids. */
  async ruleSets(): Promise<StoredRuleSet[]> {
    const out: StoredRuleSet[] = [];
    for (const kind of ["all", "username", "clientid"] as const) {
      for (let afterWho: string | null = null;;) {
        const page: AclRuleSet[] = await this.#store.readAsync({
          kind: "acls",
          whoType: kind,
          afterWho,
          limit: PAGE,
        });
        for (const r of page) {
          out.push({ kind, who: r.who, rules: r.rules as unknown as Record<string, unknown>[] });
        }
        if (page.length < PAGE) break;
        afterWho = page[page.length - 1]!.who;
      }
    }
    return out;
  }

  async #commit(batch: WireBatch): Promise<void> {
    const [r] = await this.#store.commitAsync(batch);
    if (r && isRefusal(r)) throw new StoreError(r.code, r.message);
  }
}
