/**
 * Worker entry of the store worker: the one isolate that owns the store file's connection
 * (docs/store.md says why). Nothing else lives here, so `deno compile --include
 * workers/store.ts` needs no more.
 */

import { type ControlPort, runStoreWorker } from "../src/store/worker_main.ts";

runStoreWorker(self as unknown as ControlPort);
