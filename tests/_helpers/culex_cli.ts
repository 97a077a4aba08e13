/**
 * Test helper: runs the `culex` program (main.ts) as a real process, e.g. `culex ctl clients
 * list` or `culex ping`, against the node whose data directory is given, and returns its exit
 * status and output. Owns nothing beyond the child process.
 */

/** What one run printed. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs `culex <args...> --set node.data_dir=<dataDir>` and waits for it (bounded by the CLI). */
export async function culex(
  dataDir: string,
  args: readonly string[],
  extraSets: readonly string[] = [],
): Promise<CliResult> {
  const [command, ...rest] = args;
  const sets = [`node.data_dir=${dataDir}`, ...extraSets].flatMap((s) => ["--set", s]);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, command!, ...sets, ...rest],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `culex ctl <words>`: its standard output; throws with stderr when it exits non-zero. */
export async function ctl(dataDir: string, ...words: string[]): Promise<string> {
  const r = await culex(dataDir, ["ctl", ...words]);
  if (r.code !== 0) throw new Error(`culex ctl ${words.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * `culex start <args...>` that is expected to exit (a refused config, a port in use): its exit
 * code and everything it printed (stdout, then stderr). The MQTT and API listeners bind port 0
 * unless `args` set them (a later `--set` wins). A start that does not exit within `timeoutMs` is
 * killed, and the caller's assertions say why.
 */
export async function startExpectingExit(
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--set",
      "listeners.tcp.default.bind=127.0.0.1:0",
      "--set",
      "dashboard.listeners.http.bind=127.0.0.1:0",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    clearTimeout(guard);
  }
}
