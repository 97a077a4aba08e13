/**
 * Test helper: runs Debian's `mosquitto_pub` / `mosquitto_sub` (package mosquitto-clients)
 * against the broker under test, each run bounded (`-W` for subscribers, a kill timer for all).
 *
 * Owns the child processes it starts; each one is reaped before its function returns (or by
 * the handle's `stop()` for a long-running subscriber).
 */

/** Result of one finished tool run. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options shared by both tools. */
export interface ToolOptions {
  port: number;
  /** "mqttv311" (default), "mqttv5" or "mqttv31". */
  version?: "mqttv31" | "mqttv311" | "mqttv5";
  clientId?: string;
  qos?: 0 | 1 | 2;
  /** Hard bound on the process's life; default 15 s. */
  killAfterMs?: number;
  /** More arguments, e.g. MQTT 5 properties: ["-D", "PUBLISH", "user-property", "k", "v"]. */
  extraArgs?: string[];
}

function commonArgs(o: ToolOptions): string[] {
  const args = ["-h", "127.0.0.1", "-p", String(o.port)];
  if (o.version) args.push("-V", o.version);
  if (o.clientId) args.push("-i", o.clientId);
  if (o.qos !== undefined) args.push("-q", String(o.qos));
  args.push(...(o.extraArgs ?? []));
  return args;
}

async function run(cmd: string, args: string[], killAfterMs: number): Promise<ToolResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // SIGKILL, not SIGTERM: the tools' signal handlers can deadlock (seen with mosquitto_sub
  // 2.0.11 -V mqttv5: stuck in a futex inside its SIGINT handler, ignoring SIGTERM and -W).
  const timer = setTimeout(() => killHard(child), killAfterMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function killHard(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch { /* already exited */ }
}

/** Publishes one message with mosquitto_pub; rejects unless it exits 0. */
export async function mosquittoPub(
  o: ToolOptions & { topic: string; message: string; retain?: boolean },
): Promise<ToolResult> {
  // An empty message is sent with -n (a zero-length payload, e.g. to clear a retained one).
  const args = [
    ...commonArgs(o),
    "-t",
    o.topic,
    ...(o.message === "" ? ["-n"] : ["-m", o.message]),
  ];
  if (o.retain) args.push("-r");
  const r = await run("mosquitto_pub", args, o.killAfterMs ?? 15_000);
  if (r.code !== 0) {
    throw new Error(`mosquitto_pub ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  }
  return r;
}

/** Format of one received line with SUB_FORMAT: retain flag, QoS, topic, payload. */
export const SUB_FORMAT = "MSG|%r|%q|%t|%p";

/** A message as printed by mosquitto_sub with SUB_FORMAT. */
export interface SubLine {
  retain: boolean;
  qos: number;
  topic: string;
  payload: string;
}

/** Parses the SUB_FORMAT lines of mosquitto_sub's output (debug lines are skipped). */
export function parseSubLines(stdout: string): SubLine[] {
  const out: SubLine[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^MSG\|(\d)\|(\d)\|([^|]*)\|(.*)$/.exec(line);
    if (m) {
      out.push({ retain: m[1] === "1", qos: Number(m[2]), topic: m[3] ?? "", payload: m[4] ?? "" });
    }
  }
  return out;
}

/** Options of a mosquitto_sub run. */
export interface SubOptions extends ToolOptions {
  topics: string[];
  /** `-C`: exit after this many messages. */
  count?: number;
  /** `-W`: exit after this many seconds (always set; default 10). */
  waitSeconds?: number;
  /** `-c`: clean session off (persistent session); needs clientId. */
  persistent?: boolean;
  /** `-d`: debug output (lets a test see "received SUBACK"). */
  debug?: boolean;
  /** `-F` format; default SUB_FORMAT. Pass null for mosquitto_sub's default (payload only). */
  format?: string | null;
}

function subArgs(o: SubOptions): string[] {
  const args = commonArgs(o);
  for (const t of o.topics) args.push("-t", t);
  if (o.count !== undefined) args.push("-C", String(o.count));
  args.push("-W", String(o.waitSeconds ?? 10));
  if (o.persistent) args.push("-c");
  if (o.debug) args.push("-d");
  if (o.format !== null) args.push("-F", o.format ?? SUB_FORMAT);
  return args;
}

/** A running mosquitto_sub. */
export interface SubProcess {
  /** Output so far. */
  stdout(): string;
  /** Resolves once stdout matches re; rejects after timeoutMs or when the process exits. */
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  /** Sends a signal (e.g. SIGINT, as Ctrl-C would). */
  signal(sig: Deno.Signal): void;
  /** Waits for exit (SIGKILL after timeoutMs; default: the -W bound + 10 s) and returns the result. */
  finish(timeoutMs?: number): Promise<ToolResult>;
}

/** Starts mosquitto_sub in the background. Always call finish(). */
export function spawnMosquittoSub(o: SubOptions): SubProcess {
  const args = subArgs(o);
  const hardMs = o.killAfterMs ?? ((o.waitSeconds ?? 10) * 1000 + 10_000);
  // stdbuf (coreutils) makes stdout line-buffered, so output shows up while it runs; it execs
  // mosquitto_sub in place, so signals reach mosquitto_sub itself.
  const child = new Deno.Command("stdbuf", {
    args: ["-oL", "mosquitto_sub", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const hardTimer = setTimeout(() => killHard(child), hardMs);
  let stdout = "";
  let stderr = "";
  let wake: (() => void) | null = null;
  async function pump(s: ReadableStream<Uint8Array>, into: (t: string) => void): Promise<void> {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      into(chunk);
      wake?.();
    }
  }
  const pumps = Promise.all([
    pump(child.stdout, (t) => stdout += t),
    pump(child.stderr, (t) => stderr += t),
  ]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    wake?.();
    await pumps;
    clearTimeout(hardTimer);
    return s.code;
  });
  return {
    stdout: () => stdout,
    async waitFor(re: RegExp, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(stdout)) {
        const left = deadline - Date.now();
        if (left <= 0 || exited) {
          throw new Error(
            `mosquitto_sub ${args.join(" ")}: ${exited ? "exited" : "timed out"} before ${re}; ` +
              `stdout: ${stdout} stderr: ${stderr}`,
          );
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(left, 200));
        });
        clearTimeout(timer);
        wake = null;
      }
    },
    signal(sig: Deno.Signal): void {
      try {
        child.kill(sig);
      } catch { /* already exited */ }
    },
    async finish(timeoutMs = hardMs): Promise<ToolResult> {
      const t = setTimeout(() => killHard(child), timeoutMs);
      try {
        const code = await status;
        return { code, stdout, stderr };
      } finally {
        clearTimeout(t);
      }
    },
  };
}

/** Runs mosquitto_sub to completion (bounded by -W) and returns its output. */
export async function mosquittoSub(o: SubOptions): Promise<ToolResult> {
  return await spawnMosquittoSub(o).finish();
}

/**
 * Runs mosquitto_rr (MQTT 5 request/response): publishes `message` to `topic` with Response
 * Topic `responseTopic` (and a correlation data of its own), prints the first response with
 * `format` (default: the payload). Bounded by -W (default 5 s) and the kill timer.
 */
export async function mosquittoRr(
  o: ToolOptions & {
    topic: string;
    responseTopic: string;
    message: string;
    format?: string;
    waitSeconds?: number;
  },
): Promise<ToolResult> {
  const args = [...commonArgs(o), "-t", o.topic, "-e", o.responseTopic, "-m", o.message];
  args.push("-W", String(o.waitSeconds ?? 5));
  if (o.format) args.push("-F", o.format);
  return await run("mosquitto_rr", args, o.killAfterMs ?? (o.waitSeconds ?? 5) * 1000 + 5_000);
}
