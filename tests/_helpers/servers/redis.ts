/**
 * Test helper: a real redis-server (Debian package redis-server) on a free 127.0.0.1 port in a
 * temp dir, with a password, no persistence. Owns that process and dir only.
 */

import { freePort, type ServerProcess, spawn, waitForPort } from "./_proc.ts";

export interface RedisServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** "127.0.0.1:<port>" as the config's `server` key takes it. */
  readonly server: string;
  readonly password: string;
  readonly process: ServerProcess;
  /** Stops the server and removes its dir. */
  stop(): Promise<void>;
}

/** Starts redis-server; resolves when it accepts connections (20 s at most). */
export async function startRedis(): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "culex-redis-" });
  const port = freePort();
  const password = "redis-test-pw";
  const p = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--requirepass",
    password,
    "--protected-mode",
    "no",
  ]);
  await waitForPort(port, 20_000, p.logs);
  return {
    host: "127.0.0.1",
    port,
    server: `127.0.0.1:${port}`,
    password,
    process: p,
    async stop() {
      await p.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
