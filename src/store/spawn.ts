/**
 * Starting the store worker from the supervisor: `startStoreWorker(options)` spawns
 * workers/store.ts, waits until the file is open (or refused) and returns a handle that makes
 * one MessagePort per client (`connect()`: hand it to a shard in its init message, transferred)
 * and closes the worker. Owned by src/store/; the supervisor calls it, no shard does.
 */

import { StoreError } from "./errors.ts";
import type { OpenReport } from "./_open.ts";
import type { LogConfig } from "../config/mod.ts";
import { writeForwardedLine } from "../log.ts";
import type {
  StoreControl,
  StoreControlReply,
  StoreLogConfig,
  StoreWorkerOptions,
} from "./protocol.ts";

/** A running store worker. */
export interface StoreWorkerHandle {
  /** What opening found (corruption moved aside, migration): log it and show it in $SYS. */
  readonly report: OpenReport;
  /** A new port served by the worker; transfer it to its user. */
  connect(): MessagePort;
  /** Applies a reloaded `log.*` in the worker. */
  setLog(log: LogConfig): void;
  /** Closes the database (the WAL is checkpointed by SQLite) and ends the worker. */
  close(): Promise<void>;
}

/**
 * Spawns the store worker and opens the store. Rejects with StoreError when the file cannot be
 * used (node.data_dir not writable, a newer or foreign file, a failed migration): the caller
 * should log it and exit before listening. A corrupt file is not an error: it is moved aside,
 * the store starts empty, and `report.corruption` says so.
 */
export function startStoreWorker(
  options: StoreWorkerOptions,
  log?: StoreLogConfig,
  opts: {
    /**
     * Called if the worker dies after it opened the file (an uncaught error). Commits in flight
     * get no answer then: treat it as fatal (log, exit non-zero) rather than go on without
     * durability.
     */
    onError?: (e: StoreError) => void;
    workerUrl?: URL;
  } = {},
): Promise<StoreWorkerHandle> {
  const workerUrl = opts.workerUrl ?? new URL("../../workers/store.ts", import.meta.url);
  const worker = new Worker(workerUrl, { type: "module", name: "store" });
  let opened = false;
  const send = (msg: StoreControl, transfer: Transferable[] = []) =>
    worker.postMessage(msg, transfer);
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      const err = new StoreError("io", `The store worker failed: ${e.message}`);
      if (opened) opts.onError?.(err);
      else reject(err);
    };
    worker.onmessage = (e: MessageEvent<StoreControlReply>) => {
      const msg = e.data;
      if (msg.t === "log") writeForwardedLine(msg.line);
      else if (msg.t === "open_failed") {
        worker.terminate();
        reject(new StoreError(msg.code, msg.message));
      } else if (msg.t === "opened") {
        opened = true;
        resolve(handle(worker, send, msg.report));
      }
    };
    send({ t: "init", options, ...(log ? { log } : {}) });
  });
}

function handle(
  worker: Worker,
  send: (msg: StoreControl, transfer?: Transferable[]) => void,
  report: OpenReport,
): StoreWorkerHandle {
  return {
    report,
    connect() {
      const ch = new MessageChannel();
      send({ t: "connect", port: ch.port1 }, [ch.port1]);
      return ch.port2;
    },
    setLog(log) {
      send({ t: "log", log });
    },
    close() {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          worker.terminate();
          resolve();
        }, 5000);
        worker.onmessage = (e: MessageEvent<StoreControlReply>) => {
          // The worker's last lines (closing the file) still reach log.file.
          if (e.data.t === "log") writeForwardedLine(e.data.line);
          if (e.data.t !== "closed") return;
          clearTimeout(timer);
          worker.terminate();
          resolve();
        };
        send({ t: "close" });
      });
    },
  };
}
