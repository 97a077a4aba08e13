/**
 * UserStore: the users of `password_based:built_in_database` and `scram:built_in_database`,
 * behind an interface so that the durable store can add a SQLite implementation. Owned by
 * src/auth/. MemoryUserStore keeps them in a Map per group (the authenticator id). get() is
 * synchronous: a built-in check must not wait for I/O on the message path.
 */

/** One stored user. Passwords are never kept in clear: a hash and salt, or SCRAM keys. */
export interface StoredUser {
  readonly userId: string;
  readonly isSuperuser: boolean;
  /** password_based: hash and salt under the authenticator's algorithm. */
  readonly passwordHash?: string | undefined;
  readonly salt?: string | undefined;
  /** scram: base64 keys, salt and iteration count (RFC 5802). */
  readonly scram?: {
    readonly storedKey: string;
    readonly serverKey: string;
    readonly salt: string;
    readonly iterations: number;
  } | undefined;
}

/** Users by group ("password_based:built_in_database", "scram:built_in_database") and id. */
export interface UserStore {
  get(group: string, userId: string): StoredUser | undefined;
  put(group: string, user: StoredUser): void;
  delete(group: string, userId: string): boolean;
  list(group: string): Iterable<StoredUser>;
  count(group: string): number;
}

/** In-memory UserStore. */
export class MemoryUserStore implements UserStore {
  readonly #groups = new Map<string, Map<string, StoredUser>>();

  #group(g: string): Map<string, StoredUser> {
    let m = this.#groups.get(g);
    if (!m) this.#groups.set(g, m = new Map());
    return m;
  }

  get(group: string, userId: string): StoredUser | undefined {
    return this.#groups.get(group)?.get(userId);
  }

  put(group: string, user: StoredUser): void {
    this.#group(group).set(user.userId, user);
  }

  delete(group: string, userId: string): boolean {
    return this.#groups.get(group)?.delete(userId) ?? false;
  }

  list(group: string): Iterable<StoredUser> {
    return this.#groups.get(group)?.values() ?? [];
  }

  count(group: string): number {
    return this.#groups.get(group)?.size ?? 0;
  }
}
