/**
 * StoreLink: the supervisor's side of the durable store (docs/store.md, "How the lead wires
 * it"). Starts the store worker before any shard or listener (a file that cannot be used fails
 * the start: the CLI logs it and exits 1), makes one port per shard worker, keeps one port for
 * the supervisor's own reads and writes, says in the log and in `$SYS` when a corrupt file was
 * moved aside, and closes the worker after the shards stopped. Owns the worker handle and the
 * supervisor's StoreClient; no shard state.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import {
  type OpenReport,
  startStoreWorker,
  StoreClient,
  type StoreError,
  storeOptions,
  type StoreWorkerHandle,
} from "../store/mod.ts";
import type { BrokerControl } from "./broker_control.ts";

const log = getLogger(["culex", "store"]);
/** attach()'s lines keep the category they had in the supervisor. */
const supervisorLog = getLogger(["culex", "supervisor"]);

/** See the file header. */
export class StoreLink {
  readonly #config: Config;
  readonly #onFatal: () => void;
  #handle: StoreWorkerHandle | null = null;
  #client: StoreClient | null = null;
  #closed = false;

  /** `onFatal` runs once if the worker dies after it opened the file. */
  constructor(config: Config, onFatal: () => void) {
    this.#config = config;
    this.#onFatal = onFatal;
  }

  /** What opening the file found; null before start(). */
  get report(): OpenReport | null {
    return this.#handle?.report ?? null;
  }

  /** The supervisor's own port (bans, users, ACL rules); null before start(). */
  get client(): StoreClient | null {
    return this.#client;
  }

  /**
   * Opens the store. Rejects with the StoreError that makes the file unusable (`not_writable`
   * naming node.data_dir, `newer_version`, `foreign`, `migration_failed`, `io`).
   */
  async start(): Promise<void> {
    const options = storeOptions(this.#config);
    try {
      this.#handle = await startStoreWorker(options, this.#config.log, {
        onError: (e: StoreError) => {
          if (this.#closed) return;
          log.error("The store worker failed: {error}; stopping", { error: e.message });
          this.#onFatal();
        },
      });
    } catch (e) {
      log.error("The store at {dir} cannot be used: {error}", {
        dir: options.dir,
        error: e instanceof Error ? e.message : String(e),
      });
      throw e;
    }
    const r = this.#handle.report;
    log.info("Store {path}: schema version {version}{how}, durable sessions {mode}", {
      path: r.path,
      version: r.version,
      how: r.created
        ? " (new file)"
        : r.migratedFrom < r.version
        ? ` (from ${r.migratedFrom})`
        : "",
      mode: this.#config.durableSessions.enable ? `on, sync ${options.sync}` : "off",
    });
    if (r.corruption) {
      log.error(
        "Store file {path} was corrupt ({reason}): moved aside as {movedTo}; started empty",
        {
          path: r.corruption.path,
          reason: r.corruption.reason,
          movedTo: r.corruption.movedTo.join(", "),
        },
      );
    }
    this.#client = new StoreClient(this.#handle.connect());
  }

  /** A reload changed `log.*`: the store worker takes the new levels too. */
  setLog(log: Config["log"]): void {
    if (!this.#closed) this.#handle?.setLog(log);
  }

  /** A new port for one shard worker; null once closed. */
  connect(): MessagePort | null {
    return this.#closed ? null : this.#handle?.connect() ?? null;
  }

  /**
   * Puts the bans, built-in users and ACL rules kept in the store in force on every shard (start
   * calls it before the first client connects) and logs how many there were.
   */
  async attach(control: BrokerControl): Promise<void> {
    const builtinAuthn = this.#config.authentication.find((a) =>
      a.mechanism === "password_based" && "backend" in a && a.backend === "built_in_database"
    );
    const loaded = await control.attachStore(this.#client!, {
      retainedOnDisc: this.#config.retainer.storageType === "disc",
      userIdType: builtinAuthn && "userIdType" in builtinAuthn ? builtinAuthn.userIdType : null,
      aclRules: this.#config.authorization.sources.some((s) => s.type === "built_in_database"),
    });
    if (loaded.bans > 0) supervisorLog.info("Loaded {n} bans from the store", { n: loaded.bans });
    if (loaded.users + loaded.aclRules > 0) {
      supervisorLog.info("Loaded {users} built-in users and {rules} ACL rule sets from the store", {
        users: loaded.users,
        rules: loaded.aclRules,
      });
    }
  }

  /**
   * Publishes the corruption report, when opening found one, as the retained
   * `$SYS/brokers/{node}/store/corruption` (the report as JSON), once the shards run.
   */
  announce(control: BrokerControl): void {
    const c = this.#handle?.report.corruption;
    if (!c) return;
    const topic = `$SYS/brokers/${this.#config.node.name}/store/corruption`;
    const payload = JSON.stringify({ ...c, at: new Date(c.at).toISOString() });
    control.publish([{ topic, payload, retain: true, qos: 0 }], "sys").catch((err) => {
      log.warning("Publishing {topic} failed: {error}", { topic, error: String(err) });
    });
  }

  /** Closes the supervisor's port and the worker (after the shards stopped). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.close();
    await this.#handle?.close();
  }
}
