/**
 * Worker entry of one shard: receives its config and ring mesh by postMessage and constructs a
 * Shard. Nothing else lives here, so `deno compile --include workers/shard.ts` needs no more.
 */

import type { Config } from "../src/config/types.ts";
import type { ShardRings } from "../src/ipc/mod.ts";
import { setupShardLogging } from "../src/log.ts";
import { Shard } from "../src/shard/mod.ts";

type Control =
  | {
    type: "init";
    index: number;
    count: number;
    config: Config;
    rings: ShardRings;
    /** This shard's port to the store worker (transferred), or null without one. */
    store: MessagePort | null;
  }
  | { type: "peers"; rings: ShardRings; rebuilt: number }
  | { type: "shutdown" };

/** The worker global, typed narrowly so this file checks with the main program's libs. */
const port = self as unknown as {
  onmessage: ((e: MessageEvent<Control>) => void) | null;
  postMessage(message: unknown): void;
};

let shard: Shard | null = null;

port.onmessage = async (e: MessageEvent<Control>) => {
  const msg = e.data;
  if (msg.type === "init") {
    // log.file lines go to the main isolate, the file's one writer.
    await setupShardLogging(msg.config.log, (line) => port.postMessage({ type: "log", line }));
    shard = new Shard(msg);
    // Durable mode: the shard's persistent sessions are loaded before it says ready, so no
    // client is placed on it before its sessions exist.
    await shard.load();
    shard.start();
    port.postMessage({ type: "ready" });
  } else if (msg.type === "peers") {
    shard?.replacePeers(msg.rings, msg.rebuilt);
  } else if (msg.type === "shutdown") {
    await shard?.shutdown();
    // Let the flush microtasks commit before telling the supervisor we are done.
    await new Promise((resolve) => setTimeout(resolve, 0));
    port.postMessage({ type: "shutdown-done" });
  }
};
