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
