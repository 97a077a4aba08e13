/**
 * StoreAdminStore: the dashboard's admins in the durable store's `users` table, group
 * (`user_id_type`) "dashboard" (docs/store.md). The row's `password_hash` is the admin's
 * `pbkdf2-sha256$...` string, `salt` holds `{role, description}` as JSON (the salt itself is
 * inside the hash string), `is_superuser` is 1 for administrators. All admins are read once at
 * start (a node has a handful) and served from memory; a change is committed to the store
 * before it is applied in memory, so an answered change survives a crash. The seeded default
 * admin is written only when another admin is added beside it (with its must-change flag in the
 * row): until then it is seeded again at each start, and afterwards the store is not empty, so
 * without that write the default admin would be gone after a restart.
 *
 * @module
 */

import { isRefusal, type StoreClient, type StoreOp, type UserRecord } from "../store/mod.ts";
import { type AdminUser, MemoryAdminStore } from "./admin_store.ts";

/** The `user_id_type` of dashboard admins in the store's `users` table. */
export const ADMIN_GROUP = "dashboard";
/** Admins read at start, at most (the store pages reads). */
const MAX_ADMINS = 10_000;

interface RowMeta {
  role?: unknown;
  description?: unknown;
  /** The seeded default admin, still with the well-known password (forced to change it). */
  must_change?: unknown;
}

function toUser(r: UserRecord): AdminUser {
  let meta: RowMeta = {};
  try {
    meta = JSON.parse(r.salt) as RowMeta;
  } catch { /* an older row: defaults */ }
  return {
    username: r.userId,
    passwordHash: r.passwordHash,
    role: meta.role === "viewer" ? "viewer" : "administrator",
    description: typeof meta.description === "string" ? meta.description : "",
    mustChangePassword: meta.must_change === true,
  };
}

function toRow(u: AdminUser): UserRecord {
  return {
    // The table's key is (user_id_type, user_id); the column is free text in the schema.
    userIdType: ADMIN_GROUP as UserRecord["userIdType"],
    userId: u.username,
    passwordHash: u.passwordHash,
    salt: JSON.stringify({
      role: u.role,
      description: u.description,
      ...(u.mustChangePassword ? { must_change: true } : {}),
    }),
    isSuperuser: u.role === "administrator",
  };
}

/** See the file header. */
export class StoreAdminStore extends MemoryAdminStore {
  readonly #client: StoreClient;
  /** The default admin seeded at this start and not written yet. */
  #unsavedSeed: string | null = null;

  private constructor(client: StoreClient) {
    super();
    this.#client = client;
  }

  /** Reads every admin of the store. */
  static async open(client: StoreClient): Promise<StoreAdminStore> {
    const store = new StoreAdminStore(client);
    const rows = await client.readAsync({
      kind: "users",
      userIdType: ADMIN_GROUP,
      afterId: null,
      limit: MAX_ADMINS,
    });
    for (const r of rows) store.users.set(r.userId, toUser(r));
    return store;
  }

  override async seed(user: AdminUser): Promise<void> {
    const empty = this.users.size === 0;
    await super.seed(user);
    if (empty) this.#unsavedSeed = user.username;
  }

  override async put(user: AdminUser): Promise<void> {
    const ops: StoreOp[] = [{ op: "user", user: toRow(user) }];
    // Another admin beside the unsaved default one: both rows in one commit.
    const seed = this.#unsavedSeed === null ? undefined : this.users.get(this.#unsavedSeed);
    if (seed && seed.username !== user.username) ops.push({ op: "user", user: toRow(seed) });
    await this.#commit(...ops);
    this.#unsavedSeed = null;
    await super.put(user);
  }

  override async delete(username: string): Promise<boolean> {
    if (!this.users.has(username)) return false;
    if (username === this.#unsavedSeed) this.#unsavedSeed = null;
    await this.#commit({ op: "user_delete", userIdType: ADMIN_GROUP, userId: username });
    return await super.delete(username);
  }

  async #commit(...ops: StoreOp[]): Promise<void> {
    const [r] = await this.#client.commitAsync({ msgs: [], ops });
    if (r && isRefusal(r)) throw new Error(`The store refused the change: ${r.message}`);
  }
}
