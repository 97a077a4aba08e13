/**
 * Culex CLI: `start [--daemon]`, `stop`, `ping`, `pid`, `ctl`, `version`, `--help`. Parses
 * flags, loads the Config, sets up logging and starts the supervisor; installs the SIGINT/SIGTERM
 * handlers that stop it and the SIGHUP handler that reloads the configuration. The commands that
 * talk to a running node are in src/ctl/cli.ts. Touches no socket, no ring and no MQTT state:
 * everything past start-up belongs to src/supervisor/. The same main() serves `deno run
 * main.ts`, the tests and the compiled binary.
 */

import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig, type LoadOptions } from "./src/config/mod.ts";
import { closeLogFile, getLog, setupNodeLogging } from "./src/log.ts";
import { runNodeCommand, startDaemon } from "./src/ctl/cli.ts";
import { VERSION } from "./src/version.ts";

/** Exit status for invalid usage or configuration (as in BSD sysexits' convention of 2). */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const USAGE = `Culex ${VERSION}: an MQTT broker for Deno

Usage:
  culex start [--daemon] [--config FILE] [--shards N] [--node-name NAME] [--set KEY=VALUE]...
  culex stop|ping|pid [--config FILE] [--set KEY=VALUE]...
  culex ctl [--config FILE] [--set KEY=VALUE]... <command> [args]
  culex version
  culex <command> --help

Commands:
  start     Start the broker; runs until SIGINT or SIGTERM (--daemon: in the background)
  stop      Stop the running node and wait until it has stopped
  ping      Print "pong" when the node runs (exit 0), else exit 1
  pid       Print the running node's process id
  ctl       Inspect and manage the running node (culex ctl help lists the commands)
  version   Print the Culex and Deno versions

stop, ping, pid and ctl find the node through node.data_dir of the same configuration as
start (--config, --set, CULEX__* variables) and talk to it over <node.data_dir>/culex.sock.

Options:
  -h, --help  Show this help
`;

const START_USAGE = `Usage: culex start [options]

Starts the broker. Configuration is layered: embedded default < --config FILE < CULEX__*
environment variables < flags. An invalid configuration is reported with its key, source and
line, and culex exits with status 2 before it opens any port.

Options:
  --daemon           Run in the background: console off, log.file on; returns once the node
                     answers (culex ping), with its pid in <node.data_dir>/culex.pid
  --config FILE      YAML file layered over the embedded default (config/culex.yaml)
  --shards N         Shard workers, sets node.shards (0 = one per CPU core)
  --node-name NAME   Node name "name@host", sets node.name
  --set KEY=VALUE    Sets one key, e.g. --set listeners.tcp.default.bind=127.0.0.1:1884;
                     repeatable; VALUE is read as a YAML scalar
  -h, --help         Show this help

Environment:
  CULEX__<LEVEL>__<LEVEL>=VALUE   e.g. CULEX__MQTT__MAX_INFLIGHT=64 (levels joined by __)

SIGHUP re-reads the configuration and applies what can change at run time (see README).

Exit status: 0 stopped by a signal, 1 failed while starting, 2 invalid usage or config.
`;

const VERSION_USAGE = `Usage: culex version

Prints the Culex version and the Deno runtime it runs on.

Options:
  -h, --help  Show this help
`;

/**
 * Runs the CLI with `args` (without the program name) and resolves to the exit status. For
 * `start` it resolves only if start-up fails: once the broker runs, the signal handlers stop
 * it and exit the process themselves.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * await main(["version"]); // prints "culex 0.1.0" and the Deno version, resolves to 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "start":
      return await runStart(rest);
    case "version":
      return runVersion(rest);
    case "stop":
    case "ping":
    case "pid":
    case "ctl":
      return await runNodeCommand(command, rest);
    case "-h":
    case "--help":
      console.log(USAGE.trimEnd());
      return 0;
    case "--version":
      return runVersion(rest);
    case undefined:
      return usageError("no command given", USAGE);
    default:
      return usageError(`unknown command "${command}"`, USAGE);
  }
}

function usageError(problem: string, usage: string): number {
  console.error(`culex: ${problem}\n\n${usage.trimEnd()}`);
  return EXIT_USAGE;
}

function runVersion(args: string[]): number {
  let help: boolean | undefined;
  try {
    ({ values: { help } } = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (e) {
    return usageError(`version: ${errorText(e)}`, VERSION_USAGE);
  }
  if (help) {
    console.log(VERSION_USAGE.trimEnd());
    return 0;
  }
  const { deno, v8, typescript } = Deno.version;
  console.log(`culex ${VERSION}\ndeno ${deno} (v8 ${v8}, typescript ${typescript})`);
  return 0;
}

async function runStart(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        shards: { type: "string" },
        "node-name": { type: "string" },
        set: { type: "string", multiple: true },
        daemon: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    return usageError(`start: ${errorText(e)}`, START_USAGE);
  }
  if (values.help) {
    console.log(START_USAGE.trimEnd());
    return 0;
  }
  if (values.shards !== undefined && !/^\d+$/.test(values.shards)) {
    return usageError(
      `start: --shards expects a whole number, got "${values.shards}"`,
      START_USAGE,
    );
  }

  const opts: LoadOptions = {
    env: Deno.env.toObject(),
    sets: values.set ?? [],
    ...(values.config !== undefined ? { file: values.config } : {}),
    ...(values.shards !== undefined ? { shards: Number(values.shards) } : {}),
    ...(values["node-name"] !== undefined ? { nodeName: values["node-name"] } : {}),
  };
  if (values.daemon) return await startDaemon(args.filter((a) => a !== "--daemon"), opts);
  let config: Config;
  try {
    config = loadConfig(opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Reported before logging is set up and before any listener exists: nothing is half-open.
    console.error(e.message);
    return EXIT_USAGE;
  }

  try {
    await setupNodeLogging(config.log);
  } catch (e) {
    console.error(
      `Invalid config: log.file.path: cannot write ${config.log.file.path}: ${errorText(e)}`,
    );
    return EXIT_USAGE;
  }
  const log = getLog("cli");
  log.info("Culex {version} starting node {node} with {shards} shard(s)", {
    version: VERSION,
    node: config.node.name,
    shards: config.node.shards,
  });
  // Deprecated keys are accepted; say so once, where the operator looks.
  for (const warning of config.warnings) log.warn("Config: {warning}", { warning });
  // Signals are watched before the listeners open: a SIGTERM that arrives while the broker is
  // still starting waits for the start and then stops it, instead of killing the process.
  const signalled = watchSignals();
  // Imported only now, so `version`, `--help` and config errors never load the broker.
  const { checkConfigFiles, startSupervisor } = await import("./src/supervisor/mod.ts");
  try {
    checkConfigFiles(config);
  } catch (e) {
    // ACL and bootstrap files are read by every shard: refuse them here, before the store opens.
    console.error(`Invalid config: ${errorText(e)}`);
    closeLogFile();
    return EXIT_USAGE;
  }
  let handle: Awaited<ReturnType<typeof startSupervisor>>;
  try {
    handle = await startSupervisor(config, {
      controlSocket: true,
      // `extra`: `PUT /api/v5/configs` keys, applied over the same file, environment and flags.
      reloadSource: (extra: readonly string[] = []) =>
        loadConfig({ ...opts, sets: [...(opts.sets ?? []), ...extra] }),
      requestStop: () => signalled.stop("culex stop"),
    });
  } catch (e) {
    log.error("Culex failed to start: {error}", { error: e });
    closeLogFile();
    return EXIT_FAILURE;
  }
  // SIGHUP: the configuration is re-read and what can change at run time applies (TLS
  // certificates included); connections stay open. A bad file is logged and changes nothing.
  if (Deno.build.os !== "windows") {
    const running = handle;
    Deno.addSignalListener("SIGHUP", () => {
      log.info("Received SIGHUP, reloading the configuration");
      running.reload().catch(() => {/* logged by reload, nothing changed */});
    });
  }
  const signal = await signalled.signal;
  log.info("Received {signal}, stopping", { signal });
  try {
    await handle.stop();
  } catch (e) {
    log.error("Culex failed to stop cleanly: {error}", { error: e });
    closeLogFile();
    return EXIT_FAILURE;
  }
  closeLogFile();
  return 0;
}

/**
 * `signal` resolves with the first SIGINT/SIGTERM (or `stop(why)`, from `culex stop`); a
 * second signal exits 1 at once, so a hung start or drain can still be ended with Ctrl-C.
 */
function watchSignals(): { signal: Promise<string>; stop(why: string): void } {
  const log = getLog("cli");
  let seen = false;
  let stop: (why: string) => void = () => {};
  const signal = new Promise<string>((resolve) => {
    stop = (why) => {
      if (!seen) {
        seen = true;
        resolve(why);
      }
    };
    const onSignal = (signal: Deno.Signal) => {
      if (seen) {
        log.warn("Received {signal} again while stopping; exiting now", { signal });
        Deno.exit(EXIT_FAILURE);
      }
      seen = true;
      resolve(signal);
    };
    // Windows has no SIGTERM in Deno; SIGINT (Ctrl-C) works everywhere.
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    for (const signal of signals) Deno.addSignalListener(signal, () => onSignal(signal));
  });
  return { signal, stop: (why) => stop(why) };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
