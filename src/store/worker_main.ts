/**
 * The store worker's control loop: opens the Store on `init`, attaches a StoreHost to every
 * port the supervisor hands over (`connect`), closes on `close`. workers/store.ts calls it; a
 * test may call it with any port-like object. Owned by src/store/.
 */

import { setupLogging, setupShardLogging } from "../log.ts";
import { StoreError } from "./errors.ts";
import type { StoreControl, StoreControlReply } from "./protocol.ts";
import { Store } from "./store.ts";
import { StoreHost } from "./worker_host.ts";

/** The worker global as this loop uses it. */
export interface ControlPort {
  onmessage: ((e: MessageEvent<StoreControl>) => void) | null;
  postMessage(message: StoreControlReply): void;
}

/** Runs the control loop on `self` (or a test's port). */
export function runStoreWorker(self: ControlPort): void {
  let store: Store | null = null;
  let host: StoreHost | null = null;
  const early: MessagePort[] = [];
  self.onmessage = async (e: MessageEvent<StoreControl>) => {
    const msg = e.data;
    if (msg.t === "init") {
      const log = msg.log;
      if (log && "file" in log) {
        // As a shard does: file lines go to the main isolate, the file's only writer.
        await setupShardLogging(log, (line) => self.postMessage({ t: "log", line }));
      } else if (log) await setupLogging(log.level, log.format);
      try {
        store = Store.open(msg.options);
      } catch (err) {
        const se = err instanceof StoreError ? err : new StoreError("io", String(err));
        self.postMessage({ t: "open_failed", code: se.code, message: se.message });
        return;
      }
      host = new StoreHost(store, { tokenTimeoutMs: msg.options.tokenTimeoutMs ?? 5000 });
      for (const port of early.splice(0)) host.attach(port);
      self.postMessage({ t: "opened", report: store.report });
      // Fill the page cache in the background: a macrotask per step, so requests that arrive
      // meanwhile wait at most one step (store.ts warmStep).
      const opened = store;
      const warm = () => {
        if (opened.warmStep()) setTimeout(warm, 0);
      };
      setTimeout(warm, 0);
    } else if (msg.t === "connect") {
      if (host) host.attach(msg.port);
      else early.push(msg.port);
    } else if (msg.t === "log") {
      // The forward given at init is kept.
      await setupShardLogging(msg.log);
    } else if (msg.t === "close") {
      host?.close();
      store?.close();
      self.postMessage({ t: "closed" });
    }
  };
}
