/**
 * AdminStore: the dashboard's admin users (EMQX's `admins`), behind an interface so that the
 * durable store can keep them in its `users` table (group "dashboard") once it is wired.
 * MemoryAdminStore keeps them in a Map; FileAdminStore adds a JSON file under node.data_dir,
 * mode 0600, replaced atomically on each change and written only on a change (a node that
 * never changes an admin writes nothing). Passwords are only ever stored hashed (_password.ts).
 *
 * @module
 */

/** One admin user. */
export interface AdminUser {
  readonly username: string;
  /** `pbkdf2-sha256$...` (never the password). */
  readonly passwordHash: string;
  readonly role: "administrator" | "viewer";
  readonly description: string;
  /** Seeded with the well-known default password: only a password change is allowed. */
  readonly mustChangePassword: boolean;
}

/** Where admins live. */
export interface AdminStore {
  /**
   * Seeds the default admin when the store is empty. Not persisted: it is seeded again from the
   * config at each start until someone changes it.
   */
  seed(user: AdminUser): Promise<void>;
  get(username: string): Promise<AdminUser | undefined>;
  put(user: AdminUser): Promise<void>;
  delete(username: string): Promise<boolean>;
  list(): Promise<AdminUser[]>;
}

/** Admins in memory (lost at stop). */
export class MemoryAdminStore implements AdminStore {
  protected readonly users = new Map<string, AdminUser>();

  seed(user: AdminUser): Promise<void> {
    if (this.users.size === 0) this.users.set(user.username, user);
    return Promise.resolve();
  }

  get(username: string): Promise<AdminUser | undefined> {
    return Promise.resolve(this.users.get(username));
  }

  put(user: AdminUser): Promise<void> {
    this.users.set(user.username, user);
    return Promise.resolve();
  }

  delete(username: string): Promise<boolean> {
    return Promise.resolve(this.users.delete(username));
  }

  list(): Promise<AdminUser[]> {
    return Promise.resolve([...this.users.values()]);
  }
}

/** Admins in memory, saved to `path` (JSON, mode 0600) after every change. */
export class FileAdminStore extends MemoryAdminStore {
  readonly #path: string;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    super();
    this.#path = path;
  }

  /** Loads `path` if it exists; a file that cannot be parsed is an error naming it. */
  static async open(path: string): Promise<FileAdminStore> {
    const store = new FileAdminStore(path);
    let text: string | null = null;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (text !== null) {
      const list = JSON.parse(text) as AdminUser[];
      if (!Array.isArray(list)) throw new SyntaxError(`${path}: expected a JSON array of admins`);
      for (const u of list) store.users.set(u.username, u);
    }
    return store;
  }

  override async put(user: AdminUser): Promise<void> {
    await super.put(user);
    await this.#save();
  }

  override async delete(username: string): Promise<boolean> {
    const had = await super.delete(username);
    if (had) await this.#save();
    return had;
  }

  /** Writes are chained so that two changes never interleave on disk. */
  #save(): Promise<void> {
    const text = JSON.stringify([...this.users.values()], null, 2);
    this.#writing = this.#writing.then(async () => {
      const dir = this.#path.slice(0, this.#path.lastIndexOf("/")) || ".";
      await Deno.mkdir(dir, { recursive: true });
      // A name of its own: two nodes sharing a data_dir by mistake must not rename each other's.
      const tmp = `${this.#path}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
      await Deno.writeTextFile(tmp, text, { mode: 0o600 });
      await Deno.chmod(tmp, 0o600);
      await Deno.rename(tmp, this.#path);
    });
    return this.#writing;
  }
}
