/**
 * Control methods about the built-in security data (private to src/shard/, listed by
 * control.ts): users of `password_based:built_in_database` and the rules of the
 * `built_in_database` authorization source. The supervisor reads them from one shard (every
 * shard holds the same) and writes them to every shard, so a change applies node-wide before
 * the HTTP API answers. Passwords arrive already hashed (the supervisor hashes once).
 *
 * @module
 */

import { BUILTIN_ID, type StoredUser } from "../auth/mod.ts";
import { ControlError, type ControlMethod, page, str } from "./_control_util.ts";

type RuleKind = "username" | "clientid" | "all";

function ruleKind(v: unknown): RuleKind {
  if (v === "username" || v === "clientid" || v === "all") return v;
  throw new ControlError("kind must be username, clientid or all");
}

function userJson(u: StoredUser) {
  return { user_id: u.userId, is_superuser: u.isSuperuser };
}

/** The methods; see the file header. */
export const authMethods: Readonly<Record<string, ControlMethod>> = {
  /** Built-in users, paged; `like_user_id` (substring) and `is_superuser` filters. */
  "authn.users.list"(svc, params) {
    const like = typeof params.like_user_id === "string" ? params.like_user_id : null;
    const su = typeof params.is_superuser === "boolean" ? params.is_superuser : null;
    return page(
      svc.security.userStore.list(BUILTIN_ID),
      params,
      (u) => (like === null || u.userId.includes(like)) && (su === null || u.isSuperuser === su),
      userJson,
    );
  },
  "authn.users.get"(svc, params) {
    const u = svc.security.userStore.get(BUILTIN_ID, str(params.user_id, "user_id"));
    return u ? userJson(u) : null;
  },
  /** Adds or replaces a user (hash and salt made by the supervisor). */
  "authn.users.put"(svc, params) {
    const u = params.user as Record<string, unknown> | undefined;
    if (!u || typeof u.userId !== "string" || typeof u.passwordHash !== "string") {
      throw new ControlError("user must be {userId, passwordHash, salt, isSuperuser}");
    }
    svc.security.userStore.put(BUILTIN_ID, {
      userId: u.userId,
      isSuperuser: u.isSuperuser === true,
      passwordHash: u.passwordHash,
      salt: typeof u.salt === "string" ? u.salt : "",
    });
    return true;
  },
  "authn.users.delete"(svc, params) {
    return svc.security.userStore.delete(BUILTIN_ID, str(params.user_id, "user_id"));
  },
  /** Usernames or client ids with rules, paged: `[{username | clientid, rules}]`. */
  "authz.rules.list"(svc, params) {
    const kind = ruleKind(params.kind);
    if (kind === "all") throw new ControlError("kind must be username or clientid");
    const like = typeof params.like === "string" ? params.like : null;
    return page(
      svc.security.aclStore.rawEntries(kind),
      params,
      ([who]) => like === null || who.includes(like),
      ([who, rules]) => ({ [kind]: who, rules }),
    );
  },
  "authz.rules.get"(svc, params) {
    const kind = ruleKind(params.kind);
    const who = kind === "all" ? "" : str(params.who, "who");
    return svc.security.aclStore.rawRules(kind, who) ?? null;
  },
  /** Replaces the rules of one username / client id / everyone; a bad rule is an error. */
  "authz.rules.set"(svc, params) {
    const kind = ruleKind(params.kind);
    const who = kind === "all" ? "" : str(params.who, "who");
    if (!Array.isArray(params.rules)) throw new ControlError("rules must be a list");
    try {
      svc.security.aclStore.set(kind, who, params.rules as Record<string, unknown>[]);
    } catch (err) {
      throw new ControlError((err as Error).message);
    }
    return true;
  },
  "authz.rules.delete"(svc, params) {
    const kind = ruleKind(params.kind);
    return svc.security.aclStore.delete(kind, kind === "all" ? "" : str(params.who, "who"));
  },
};
