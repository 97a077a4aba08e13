/**
 * AdminGate: an AdminStore whose first call runs a deferred seeding of the default admin
 * first, and whose every call waits for it. Why: seeding hashes the default password (PBKDF2,
 * 210,000 rounds, 50-80 ms of a core on a thread of its own), and a broker whose store holds no
 * admin did that at every start the moment its MQTT listeners opened: on a 2-core machine,
 * beside the first clients' work (the first retained lookup after a start, bench/README.md
 * "sensor/+/temp"). Now the first login (or `ctl admins`, or any use of the admins) pays it.
 * Private to src/api/ (auth.ts).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { AdminStore, AdminUser } from "./admin_store.ts";

const log = getLogger(["culex", "api"]);

/** See the file header. */
export class AdminGate implements AdminStore {
  readonly #inner: AdminStore;
  /** The deferred seeding, until the first call runs it. */
  #pending: ((inner: AdminStore) => Promise<void>) | null = null;
  #done: Promise<void> = Promise.resolve();

  constructor(inner: AdminStore) {
    this.#inner = inner;
  }

  /** Runs `seed` on the store at the first call, before that call. */
  later(seed: (inner: AdminStore) => Promise<void>): void {
    this.#pending = seed;
  }

  #ready(): Promise<void> {
    const seed = this.#pending;
    if (seed) {
      this.#pending = null;
      // A failed seeding leaves the store without a default admin; the API goes on.
      this.#done = seed(this.#inner).catch((err) =>
        log.error("Seeding the default dashboard admin failed: {error}", { error: String(err) })
      );
    }
    return this.#done;
  }

  async seed(user: AdminUser): Promise<void> {
    await this.#ready();
    return this.#inner.seed(user);
  }

  async get(username: string): Promise<AdminUser | undefined> {
    await this.#ready();
    return this.#inner.get(username);
  }

  async put(user: AdminUser): Promise<void> {
    await this.#ready();
    return this.#inner.put(user);
  }

  async delete(username: string): Promise<boolean> {
    await this.#ready();
    return this.#inner.delete(username);
  }

  async list(): Promise<AdminUser[]> {
    await this.#ready();
    return this.#inner.list();
  }
}
