/**
 * Reads of the banned list, the built-in users and the built-in ACL rules (the security issue
 * defines what they mean; the store only keeps them). Private to src/store/; writes are ops
 * (types.ts) so they take the same commit path as everything else.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { AclRule, AclRuleSet, AclWhoType, BanRecord, StoreOp, UserRecord } from "./types.ts";

/** Prepared security reads for one connection. */
export class SecurityReader {
  readonly #s: Record<string, StatementSync>;

  constructor(db: DatabaseSync) {
    const q = (sql: string) => db.prepare(sql);
    this.#s = {
      bans: q(`SELECT as_, who, by_, reason, at, until FROM banned
        WHERE ?1 IS NULL OR (as_, who) > (?1, ?2) ORDER BY as_, who LIMIT ?3`),
      ban: q("SELECT as_, who, by_, reason, at, until FROM banned WHERE as_ = ? AND who = ?"),
      user: q(`SELECT user_id_type, user_id, password_hash, salt, is_superuser FROM users
        WHERE user_id_type = ? AND user_id = ?`),
      users: q(`SELECT user_id_type, user_id, password_hash, salt, is_superuser FROM users
        WHERE user_id_type = ?1 AND (?2 IS NULL OR user_id > ?2) ORDER BY user_id LIMIT ?3`),
      acl: q("SELECT who_type, who, rules FROM acl_rules WHERE who_type = ? AND who = ?"),
      acls: q(`SELECT who_type, who, rules FROM acl_rules
        WHERE who_type = ?1 AND (?2 IS NULL OR who > ?2) ORDER BY who LIMIT ?3`),
    };
  }

  /** Bans after (as, who) in key order (null to start), at most `limit`. */
  bannedList(after: { as: string; who: string } | null, limit: number): BanRecord[] {
    return this.#s.bans!.all(after?.as ?? null, after?.who ?? null, limit).map(toBan);
  }

  bannedGet(as: string, who: string): BanRecord | null {
    const r = this.#s.ban!.get(as, who);
    return r ? toBan(r) : null;
  }

  usersGet(userIdType: string, userId: string): UserRecord | null {
    const r = this.#s.user!.get(userIdType, userId);
    return r ? toUser(r) : null;
  }

  /** Users of one id type after `afterId` in id order (null to start), at most `limit`. */
  usersList(userIdType: string, afterId: string | null, limit: number): UserRecord[] {
    return this.#s.users!.all(userIdType, afterId, limit).map(toUser);
  }

  aclRulesGet(whoType: AclWhoType, who: string): AclRuleSet | null {
    const r = this.#s.acl!.get(whoType, who);
    return r ? toAcl(r) : null;
  }

  /** Rule sets of one principal type after `afterWho` (null to start), at most `limit`. */
  aclRulesList(whoType: AclWhoType, afterWho: string | null, limit: number): AclRuleSet[] {
    return this.#s.acls!.all(whoType, afterWho, limit).map(toAcl);
  }
}

/**
 * The security tables' API on a Store (`store.security`): reads, and writes that each commit
 * at once (they are rare: the HTTP API and ctl). In the store worker, the same writes go as
 * ops in a batch (StoreBatch.ban, .user, .acl) and the reads as ReadQuery kinds.
 */
export class SecurityTables {
  readonly #r: SecurityReader;
  readonly #apply: (op: StoreOp) => void;
  readonly #guard: <T>(fn: () => T) => T;

  constructor(r: SecurityReader, apply: (op: StoreOp) => void, guard: <T>(fn: () => T) => T) {
    this.#r = r;
    this.#apply = apply;
    this.#guard = guard;
  }

  bannedList(after: { as: string; who: string } | null = null, limit = 1000): BanRecord[] {
    return this.#guard(() => this.#r.bannedList(after, limit));
  }
  bannedGet(as: string, who: string): BanRecord | null {
    return this.#guard(() => this.#r.bannedGet(as, who));
  }
  bannedPut(ban: BanRecord): void {
    this.#apply({ op: "ban", ban });
  }
  bannedDelete(as: string, who: string): void {
    this.#apply({ op: "ban_delete", as, who });
  }
  usersGet(userIdType: string, userId: string): UserRecord | null {
    return this.#guard(() => this.#r.usersGet(userIdType, userId));
  }
  usersList(userIdType: string, afterId: string | null = null, limit = 1000): UserRecord[] {
    return this.#guard(() => this.#r.usersList(userIdType, afterId, limit));
  }
  usersPut(user: UserRecord): void {
    this.#apply({ op: "user", user });
  }
  usersDelete(userIdType: string, userId: string): void {
    this.#apply({ op: "user_delete", userIdType, userId });
  }
  aclRulesGet(whoType: AclWhoType, who: string): AclRuleSet | null {
    return this.#guard(() => this.#r.aclRulesGet(whoType, who));
  }
  aclRulesList(whoType: AclWhoType, afterWho: string | null = null, limit = 1000): AclRuleSet[] {
    return this.#guard(() => this.#r.aclRulesList(whoType, afterWho, limit));
  }
  aclRulesPut(whoType: AclWhoType, who: string, rules: readonly AclRule[]): void {
    this.#apply({ op: "acl", whoType, who, rules });
  }
  aclRulesDelete(whoType: AclWhoType, who: string): void {
    this.#apply({ op: "acl_delete", whoType, who });
  }
}

type Row = Record<string, unknown>;

function toBan(r: Row): BanRecord {
  return {
    as: r.as_ as string,
    who: r.who as string,
    by: r.by_ as string,
    reason: r.reason as string,
    at: Number(r.at),
    until: r.until === null ? null : Number(r.until),
  };
}

function toUser(r: Row): UserRecord {
  return {
    userIdType: r.user_id_type as "username" | "clientid",
    userId: r.user_id as string,
    passwordHash: r.password_hash as string,
    salt: r.salt as string,
    isSuperuser: r.is_superuser === 1,
  };
}

function toAcl(r: Row): AclRuleSet {
  return {
    whoType: r.who_type as AclWhoType,
    who: r.who as string,
    rules: JSON.parse(r.rules as string) as AclRule[],
  };
}
