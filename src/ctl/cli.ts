/**
 * The commands of the `culex` program that talk to a running node: `ping`, `pid`, `stop`,
 * `ctl ...`, and the parent half of `start --daemon` (spawn a detached node, wait until it
 * answers). They find the node through `node.data_dir` of the same configuration layers as
 * `start` (`--config FILE`, `--set KEY=VALUE`, CULEX__* variables) and talk over its control
 * socket (src/ctl/protocol.ts). Prints and returns exit statuses; owns no state.
 *
 * @module
 */

import { type Config, ConfigError, loadConfig, type LoadOptions } from "../config/mod.ts";
import { VERSION } from "../version.ts";
import { ctlRequest, NodeDownError } from "./protocol.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** How long `start --daemon` and `stop` wait for the node (EMQX waits up to 120 s). */
const WAIT_MS = 120_000;
const POLL_MS = 100;

/** Options and words of a node command: `--config F` and `--set K=V` anywhere, the rest words. */
export function splitOptions(args: readonly string[]): { opts: LoadOptions; words: string[] } {
  const words: string[] = [];
  const sets: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === "--config" || a === "--set") && i + 1 < args.length) {
      if (a === "--config") file = args[++i]!;
      else sets.push(args[++i]!);
    } else if (a.startsWith("--config=")) file = a.slice(9);
    else if (a.startsWith("--set=")) sets.push(a.slice(6));
    else words.push(a);
  }
  const opts: LoadOptions = {
    env: Deno.env.toObject(),
    sets,
    ...(file !== undefined ? { file } : {}),
  };
  return { opts, words };
}

function load(opts: LoadOptions): Config | null {
  try {
    return loadConfig(opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return null;
  }
}

function notRunning(config: Config, e: unknown): number {
  if (!(e instanceof NodeDownError)) throw e;
  // EMQX's wording, and where Culex looked.
  console.error(`Node '${config.node.name}' not responding to pings.\n${e.message}`);
  return EXIT_FAILURE;
}

/** `culex ping|pid|stop|ctl ...`: one request to the running node. */
export async function runNodeCommand(command: string, args: readonly string[]): Promise<number> {
  const { opts, words } = splitOptions(args);
  const config = load(opts);
  if (!config) return EXIT_USAGE;
  const dataDir = config.node.dataDir;
  if (command !== "ctl" && words.length > 0) {
    console.error(`culex ${command}: unexpected argument "${words[0]}"`);
    return EXIT_USAGE;
  }
  try {
    if (command === "stop") return await stopNode(dataDir);
    const answer = await ctlRequest(dataDir, command === "ctl" ? ["ctl", ...words] : [command]);
    if (answer.text !== "") {
      if (answer.code === 0) console.log(answer.text);
      else console.error(answer.text);
    }
    return answer.code;
  } catch (e) {
    return notRunning(config, e);
  }
}

async function stopNode(dataDir: string): Promise<number> {
  const answer = await ctlRequest(dataDir, ["stop"]);
  if (answer.code !== 0) {
    console.error(answer.text);
    return answer.code;
  }
  // The node closes its socket last: once ping finds no node, it has finished stopping. A ping
  // that meets the node half-way through closing (the connection reset, or closed before the
  // answer) says nothing yet: ask again.
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    try {
      await ctlRequest(dataDir, ["ping"], 5_000);
    } catch (e) {
      if (e instanceof NodeDownError) {
        console.log("ok");
        return 0;
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  console.error(`The node did not stop within ${WAIT_MS / 1000} s`);
  return EXIT_FAILURE;
}

/**
 * `culex start --daemon`: checks the configuration here (errors print at once, exit 2), then
 * starts the same command detached, with the console off and the file log on, and waits until
 * it answers `ping`. `startArgs` are the start options without --daemon.
 */
export async function startDaemon(
  startArgs: readonly string[],
  opts: LoadOptions,
): Promise<number> {
  const config = load(opts);
  if (!config) return EXIT_USAGE;
  const dataDir = config.node.dataDir;
  try {
    await ctlRequest(dataDir, ["ping"], 5_000);
    console.error(`Node '${config.node.name}' is already running at ${dataDir}`);
    return EXIT_FAILURE;
  } catch (e) {
    if (!(e instanceof NodeDownError)) throw e;
  }
  const exe = Deno.execPath();
  const compiled = !/^deno(\.exe)?$/.test(exe.split(/[\\/]/).pop() ?? "");
  const main = new URL("../../main.ts", import.meta.url).href;
  // The permissions of `deno task start`; a compiled binary carries its own.
  const runner = compiled ? [] : [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    "--allow-write",
    main,
  ];
  const args = [
    ...runner,
    "start",
    ...startArgs,
    "--set",
    "log.console.enable=false",
    "--set",
    "log.file.enable=true",
  ];
  const child = new Deno.Command(exe, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  const state: { exited: Deno.CommandStatus | null } = { exited: null };
  void child.status.then((s) => state.exited = s);
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline && state.exited === null) {
    try {
      const answer = await ctlRequest(dataDir, ["ping"], 5_000);
      if (answer.text === "pong") {
        console.log(`Culex ${VERSION} is started successfully!`);
        return 0;
      }
    } catch (e) {
      if (!(e instanceof NodeDownError)) throw e;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const exited = state.exited;
  const why = exited ? `it exited with status ${exited.code}` : `no answer in ${WAIT_MS / 1000} s`;
  console.error(`Culex failed to start (${why}); see ${config.log.file.path}`);
  return EXIT_FAILURE;
}
