/**
 * Authenticators that answer from memory: `password_based:built_in_database` (users in a
 * UserStore, EMQX's bootstrap CSV) and Culex's `simple` rules (allow or deny by client id,
 * username or address). Owned by src/auth/. Synchronous for plain and digest hashes; bcrypt and
 * pbkdf2 answer with a Promise (CPU work off the loop), as does a check made while the
 * bootstrap file is still being hashed.
 */

import { checkPassword, hashPassword, isTruthy } from "../_hash.ts";
import { type CsvRow, parseCsv } from "../csv.ts";
import { ipInCidr, parseCidr } from "../ip.ts";
import type { UserStore } from "../user_store.ts";
import {
  type Authenticator,
  type AuthnAnswer,
  type ClientInfo,
  type MaybePromise,
  RC_BAD_USERNAME_OR_PASSWORD,
  RC_NOT_AUTHORIZED,
} from "../types.ts";
import type { BuiltinDbAuthnConfig, SimpleAuthnConfig } from "../../config/types_auth.ts";

export const BUILTIN_ID = "password_based:built_in_database";

const decoder = new TextDecoder();

/** Maps a password check onto the answer. */
export function passwordAnswer(ok: boolean, superuser: boolean): AuthnAnswer {
  return ok ? { result: "allow", superuser } : {
    result: "deny",
    reasonCode: RC_BAD_USERNAME_OR_PASSWORD,
    reason: "bad username or password",
  };
}

/**
 * Reads and parses EMQX's bootstrap CSV: `user_id,password,is_superuser` (type plain) or
 * `user_id,password_hash,salt,is_superuser` (type hash); throws a SyntaxError naming the file and
 * line. Also called at start (main.ts), so a bad file is refused before any shard reads it.
 */
export function readBootstrapFile(cfg: BuiltinDbAuthnConfig): CsvRow[] {
  const plain = cfg.bootstrapType === "plain";
  return parseCsv(
    Deno.readTextFileSync(cfg.bootstrapFile),
    plain ? ["user_id", "password"] : ["user_id", "password_hash"],
    cfg.bootstrapFile,
  );
}

/** `password_based:built_in_database`. Existing users are kept on bootstrap (as EMQX). */
export class BuiltinAuthenticator implements Authenticator {
  readonly id = BUILTIN_ID;
  readonly store: UserStore;
  readonly #cfg: BuiltinDbAuthnConfig;
  #ready: Promise<void> | null;

  constructor(cfg: BuiltinDbAuthnConfig, store: UserStore) {
    this.#cfg = cfg;
    this.store = store;
    // Read and parsed now, so a bad file is a startup error naming its line; hashing is async.
    this.#ready = cfg.bootstrapFile ? this.#bootstrap(readBootstrapFile(cfg)) : null;
    this.#ready?.then(() => (this.#ready = null), () => (this.#ready = null));
  }

  /** Resolves once the bootstrap file's users are stored (rejects with the line on error). */
  get ready(): Promise<void> {
    return this.#ready ?? Promise.resolve();
  }

  async #bootstrap(rows: CsvRow[]): Promise<void> {
    const plain = this.#cfg.bootstrapType === "plain";
    for (const { values } of rows) {
      const userId = values.user_id ?? "";
      if (userId === "" || this.store.get(BUILTIN_ID, userId)) continue;
      const isSuperuser = isTruthy(values.is_superuser);
      if (plain) await this.addUser(userId, values.password ?? "", isSuperuser);
      else {
        this.store.put(BUILTIN_ID, {
          userId,
          isSuperuser,
          passwordHash: values.password_hash ?? "",
          salt: values.salt ?? "",
        });
      }
    }
  }

  /** Adds or replaces a user, hashing the password with the configured algorithm. */
  async addUser(userId: string, password: string, isSuperuser = false): Promise<void> {
    const h = await hashPassword(this.#cfg.passwordHashAlgorithm, password);
    this.store.put(BUILTIN_ID, { userId, isSuperuser, passwordHash: h.passwordHash, salt: h.salt });
  }

  authenticate(info: ClientInfo): MaybePromise<AuthnAnswer> {
    if (this.#ready) {
      return this.#ready.then(() => this.authenticate(info), () => this.authenticate(info));
    }
    const userId = this.#cfg.userIdType === "clientid" ? info.clientId : info.username;
    if (userId === undefined) return { result: "ignore", reason: "no user id" };
    const user = this.store.get(BUILTIN_ID, userId);
    if (!user || user.passwordHash === undefined) {
      return { result: "ignore", reason: "user not found" };
    }
    if (!info.password) return passwordAnswer(false, false);
    const ok = checkPassword(
      this.#cfg.passwordHashAlgorithm,
      decoder.decode(info.password),
      user.passwordHash,
      user.salt ?? "",
    );
    return ok instanceof Promise
      ? ok.then((v) => passwordAnswer(v, user.isSuperuser))
      : passwordAnswer(ok, user.isSuperuser);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Culex's simple rules: the first rule whose given fields all match decides. */
export class SimpleAuthenticator implements Authenticator {
  readonly id = "simple";
  readonly #rules: readonly {
    readonly permission: "allow" | "deny";
    readonly clientid?: string | undefined;
    readonly username?: string | undefined;
    readonly net: ReturnType<typeof parseCidr> | undefined;
    readonly isSuperuser: boolean;
  }[];

  constructor(cfg: SimpleAuthnConfig) {
    this.#rules = cfg.rules.map((r) => ({
      permission: r.permission,
      clientid: r.clientid,
      username: r.username,
      net: r.peerhost === undefined ? undefined : parseCidr(r.peerhost),
      isSuperuser: r.isSuperuser,
    }));
  }

  authenticate(info: ClientInfo): AuthnAnswer {
    for (const r of this.#rules) {
      if (r.clientid !== undefined && r.clientid !== info.clientId) continue;
      if (r.username !== undefined && r.username !== info.username) continue;
      if (r.net && !ipInCidr(info.peerhost, r.net)) continue;
      return r.permission === "allow"
        ? { result: "allow", superuser: r.isSuperuser }
        : { result: "deny", reasonCode: RC_NOT_AUTHORIZED, reason: "denied by a simple rule" };
    }
    return { result: "ignore", reason: "no simple rule matched" };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
