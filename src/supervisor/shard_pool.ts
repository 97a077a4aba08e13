/**
 * ShardPool: starts the shard workers with their rings, restarts one that crashes (new rings for
 * it, new peer rings for the others), and drains them at shutdown; shardOf(clientId) places a
 * client. Owns the Worker objects and the current Mesh. Holds no session state and never touches
 * sockets; the supervisor owns the ring readers and writers on its side.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { writeForwardedLine } from "../log.ts";
import {
  createMesh,
  type Mesh,
  PARTITION_COUNT,
  partitionOf,
  rebuildShard,
  shardOfPartition,
} from "../ipc/mod.ts";

const log = getLogger(["culex", "supervisor"]);

/**
 * How long a worker may take to load and answer init. Generous: a shard's init now waits for the
 * store to open, and on a loaded 2-core box (or under `deno test`, which type-checks each worker
 * module as it is spawned) loading alone took over 30 s; a shard that never answers still fails
 * the start.
 */
const READY_TIMEOUT_MS = 90_000;
/** A shard that crashes again within this time waits this long before it is restarted. */
const RESTART_BACKOFF_MS = 1000;

/** Options of a ShardPool. */
export interface ShardPoolOptions {
  /** Module of the shard worker; default workers/shard.ts (tests pass a stand-in). */
  workerUrl?: string | URL;
  /** Called after shard i got new rings, before its new worker starts. */
  onRestart?: (index: number, mesh: Mesh) => void;
  /**
   * A new port to the store worker for each shard worker spawned (a restarted shard gets a new
   * one; the dead worker's port just closes). Null without a store (tests of the pool alone).
   */
  storePort?: () => MessagePort | null;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  restartedAt: number;
}

type ShardMessage = { type: "ready" } | { type: "shutdown-done" } | { type: "log"; line: string };

/** The shard workers of this node; see the file header. */
export class ShardPool {
  /** Number of shards (config node.shards). */
  readonly count: number;
  #config: Config;
  #workerUrl: string;
  #onRestart: ((index: number, mesh: Mesh) => void) | null;
  #storePort: () => MessagePort | null;
  #mesh: Mesh;
  #slots: Slot[] = [];
  #started = false;
  #stopping = false;
  #shutdownWaiters = new Map<number, () => void>();

  constructor(config: Config, options: ShardPoolOptions = {}) {
    this.count = config.node.shards;
    this.#config = config;
    this.#workerUrl = String(
      options.workerUrl ?? new URL("../../workers/shard.ts", import.meta.url).href,
    );
    this.#onRestart = options.onRestart ?? null;
    this.#storePort = options.storePort ?? (() => null);
    this.#mesh = createMesh(this.count, config.ipc.ringSize);
  }

  /** The current rings (replaced for a shard when it is restarted). */
  get mesh(): Mesh {
    return this.#mesh;
  }

  /**
   * The shard that owns `clientId`: its partition (fixed whatever the shard count) mapped onto
   * this node's shards. Logged at debug level: the partition is how a client is found in a
   * durable store, and this line is how a test sees it.
   */
  shardOf(clientId: string): number {
    const partition = partitionOf(clientId);
    const shard = shardOfPartition(partition, this.count);
    // Checked first: a dropped debug call still cost a few µs of every connect.
    if (log.isEnabledFor("debug")) {
      log.debug(
        "Client {clientId}: partition {partition} of {partitions}, shard {shard} of {shards}",
        {
          clientId,
          partition,
          partitions: PARTITION_COUNT,
          shard,
          shards: this.count,
        },
      );
    }
    return shard;
  }

  /**
   * Spawns every worker and resolves once all answered init with ready. The workers load their
   * modules at once; their init message waits for `before` (the store opening), so the two
   * start-ups overlap. A rejected `before` sends no init: the caller fails the start.
   */
  async start(before: Promise<unknown> = Promise.resolve()): Promise<void> {
    for (let i = 0; i < this.count; i++) this.#slots.push(this.#spawn(i, 0, before));
    await Promise.all(this.#slots.map((s) => s.ready));
    this.#started = true;
  }

  /**
   * Posts shutdown to every shard and waits for each shutdown-done, at most `timeoutMs` in all.
   * Resolves to the indexes of the shards that did not answer in time.
   */
  async shutdown(timeoutMs: number): Promise<number[]> {
    this.#stopping = true;
    const late = new Set(this.#slots.map((_, i) => i));
    const done = this.#slots.map((slot, i) =>
      new Promise<void>((resolve) => {
        this.#shutdownWaiters.set(i, () => {
          late.delete(i);
          resolve();
        });
        slot.worker.postMessage({ type: "shutdown" });
      })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(done), timeout]);
    clearTimeout(timer);
    return [...late];
  }

  /** A run-time config change: a shard restarted from now on starts with `config`. */
  updateConfig(config: Config): void {
    this.#config = config;
  }

  /** Terminates every worker. */
  terminate(): void {
    this.#stopping = true;
    for (const slot of this.#slots) slot.worker.terminate();
  }

  #spawn(index: number, restartedAt: number, before?: Promise<unknown>): Slot {
    const worker = new Worker(this.#workerUrl, { type: "module", name: `shard-${index}` });
    let onReady = (): void => {};
    let onFail = (_err: Error): void => {};
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    const timer = setTimeout(
      () => onFail(new Error(`Shard ${index} did not answer init within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    void ready.then(() => clearTimeout(timer), () => clearTimeout(timer));
    worker.onmessage = (e: MessageEvent<ShardMessage>) => {
      if (e.data?.type === "ready") onReady();
      else if (e.data?.type === "shutdown-done") this.#shutdownWaiters.get(index)?.();
      else if (e.data?.type === "log") writeForwardedLine(e.data.line);
    };
    worker.onerror = (e: ErrorEvent) => {
      // Without preventDefault an uncaught error in a worker takes the whole process down.
      e.preventDefault();
      onFail(new Error(`Shard ${index} failed to start: ${e.message}`));
      this.#crashed(index, worker, e.message);
    };
    worker.onmessageerror = () => {
      log.error("Shard {index} sent a message that cannot be read", { index });
    };
    const init = () => {
      const store = this.#storePort();
      worker.postMessage({
        type: "init",
        index,
        count: this.count,
        config: this.#config,
        rings: this.#mesh.shards[index],
        store,
      }, store ? [store] : []);
    };
    if (before) before.then(init, () => {});
    else init();
    return { worker, ready, restartedAt };
  }

  #crashed(index: number, worker: Worker, message: string): void {
    const slot = this.#slots[index];
    // Only the live worker of a slot restarts it (a terminated one may still report). A crash
    // during start() fails the start instead: a shard that cannot boot would crash again.
    if (this.#stopping || !slot || slot.worker !== worker) return;
    worker.terminate();
    if (!this.#started) return;
    log.error("Shard {index} crashed: {error}; restarting it with new rings", {
      index,
      error: message,
    });
    const now = Date.now();
    const delay = now - slot.restartedAt < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0;
    this.#mesh = rebuildShard(this.#mesh, index, this.#config.ipc.ringSize);
    this.#onRestart?.(index, this.#mesh);
    // The others switch to the new rings at once, so nothing more goes into the dead ones.
    this.#slots.forEach((other, j) => {
      if (j !== index) {
        other.worker.postMessage({ type: "peers", rings: this.#mesh.shards[j], rebuilt: index });
      }
    });
    const restart = () => {
      if (this.#stopping) return;
      const next = this.#spawn(index, Date.now());
      this.#slots[index] = next;
      next.ready.then(
        () => log.info("Shard {index} restarted", { index }),
        (err: Error) =>
          log.error("Shard {index} restart failed: {error}", {
            index,
            error: err.message,
          }),
      );
    };
    // Until the new worker exists the slot keeps the dead one, so a second crash report of the
    // same worker is ignored above.
    if (delay === 0) restart();
    else setTimeout(restart, delay);
  }
}

/** Re-exported for the supervisor's users; defined in src/ipc/partition.ts. */
export { fnv1a32 } from "../ipc/mod.ts";
