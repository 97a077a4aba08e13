/**
 * Test-only store worker that dies with an uncaught error on its first `connect`, after it
 * opened the file: worker_test.ts checks that startStoreWorker's onError hears of it.
 */

import { type ControlPort, runStoreWorker } from "./worker_main.ts";

const port = self as unknown as ControlPort;
runStoreWorker(port);
const serve = port.onmessage!;
port.onmessage = (e) => {
  if (e.data.t === "connect") throw new Error("store worker crash (test)");
  serve(e);
};
