/**
 * Test helper: starts a real broker process on a free loopback port and stops it.
 *
 * A test may pass a whole config file (`config`), wait for more listeners than tcp:default
 * (`listeners`), read any listener's port from its start-up line (`portOf("wss:default")`) and
 * signal the process (`signal("SIGHUP")`).
 *
 * Owns the child process and its output; touches nothing of the broker's internals. The broker is
 * `main.ts start` by default. With `CULEX_TEST_BROKER=mosquitto` it is the system's `mosquitto`
 * instead, so the suite itself can be checked against a reference broker (the `--set` keys that
 * have a Mosquitto equivalent are translated; the others are ignored and noted in the logs).
 * The process handle lives in broker_process.ts and Mosquitto's start in broker_mosquitto.ts;
 * suites import both through this file.
 */

import {
  type BrokerHandle,
  listenerPorts,
  START_TIMEOUT_MS,
  type StartBrokerOptions,
  watchStartup,
} from "./broker_process.ts";
import { startMosquitto } from "./broker_mosquitto.ts";

export type { BrokerHandle, StartBrokerOptions } from "./broker_process.ts";

const LISTENING = /Listener tcp:default listening on ([\d.]+):(\d+)/;

/**
 * True once the broker's output matches `pattern`, waiting at most `ms` (bounded polling). Its
 * log lines come through a pipe and a client's answer through a socket, so a line about an event
 * the client has just seen may still be on its way: tests wait for it instead of reading logs()
 * once.
 */
export async function logged(
  broker: Pick<BrokerHandle, "logs">,
  pattern: RegExp | string,
  ms = 5_000,
): Promise<boolean> {
  const match = () =>
    typeof pattern === "string" ? broker.logs().includes(pattern) : pattern.test(broker.logs());
  for (const deadline = Date.now() + ms; !match();) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Which broker the suite runs against: "culex" (default) or "mosquitto". */
export function brokerKind(): "culex" | "mosquitto" {
  return Deno.env.get("CULEX_TEST_BROKER") === "mosquitto" ? "mosquitto" : "culex";
}

/**
 * Starts a broker listening on 127.0.0.1 with an OS-assigned port and resolves once it logged
 * `Listener tcp:default listening on 127.0.0.1:<port>`. Rejects after 20 s with the logs so far.
 */
export async function startBroker(opts: StartBrokerOptions = {}): Promise<BrokerHandle> {
  if (brokerKind() === "mosquitto") return await startMosquitto(opts);
  const repo = new URL("../../", import.meta.url);
  const mainTs = new URL("main.ts", repo).pathname;
  const args = [
    "run",
    "-A",
    mainTs,
    "start",
    "--shards",
    String(opts.shards ?? 1),
    "--set",
    "listeners.tcp.default.bind=127.0.0.1:0",
    "--set",
    // A free port for the HTTP API too: brokers of parallel test files must not share 18083.
    "dashboard.listeners.http.bind=127.0.0.1:0",
    "--set",
    "log.level=info",
  ];
  // Before the caller's sets, so a test may still set node.data_dir itself.
  const ownDataDir = opts.dataDir === undefined
    ? await Deno.makeTempDir({ prefix: "culex_test_data_" })
    : null;
  args.push("--set", `node.data_dir=${opts.dataDir ?? ownDataDir}`);
  for (const s of opts.sets ?? []) args.push("--set", s);
  const removeOwn = async () => {
    if (ownDataDir) await Deno.remove(ownDataDir, { recursive: true }).catch(() => {});
  };
  let configDir: string | null = null;
  if (opts.configFile !== undefined && opts.config !== undefined) {
    throw new TypeError("startBroker: give config (YAML text) or configFile, not both");
  }
  if (opts.configFile) args.push("--config", opts.configFile);
  if (opts.config !== undefined) {
    configDir = await Deno.makeTempDir({ prefix: "culex_test_config_" });
    await Deno.writeTextFile(`${configDir}/culex.yaml`, opts.config);
    args.push("--config", `${configDir}/culex.yaml`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL(".", repo).pathname,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const handle = await watchStartup(
    child,
    (line) => {
      const m = LISTENING.exec(line);
      return m ? Number(m[2]) : null;
    },
    `culex ${args.join(" ")}`,
    false,
  ).catch(async (err) => {
    if (configDir) await Deno.remove(configDir, { recursive: true }).catch(() => {});
    await removeOwn();
    throw err;
  });
  // tcp:default opens first; wait (bounded) for the others the test needs.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const name of opts.listeners ?? []) {
    while (!listenerPorts(handle.logs()).has(name)) {
      if (Date.now() > deadline) {
        await handle.stop();
        if (configDir) await Deno.remove(configDir, { recursive: true }).catch(() => {});
        await removeOwn();
        throw new Error(`Listener ${name} did not start:\n${handle.logs()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  if (!configDir && !ownDataDir) return handle;
  const dir = configDir;
  const stop = handle.stop;
  return {
    ...handle,
    async stop() {
      const code = await stop();
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      await removeOwn();
      return code;
    },
  };
}
