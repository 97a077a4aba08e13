/**
 * Brokers under test: starts Culex (`main.ts start`, 1 or N shards), Mosquitto (a config written
 * to a temp dir, a free loopback port) and Aedes (`npm:aedes` installed into a temp dir, never
 * the repo) on 127.0.0.1, and stops them. Reads their CPU time and memory from /proc. Owns the
 * broker child processes and their output (kept as a short tail for error reports).
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { tmpdir } from "node:os";

/** One broker configuration in the comparison. */
export interface BrokerDef {
  /** Column name: "culex-1", "culex-2", "mosquitto", "aedes". */
  name: string;
  kind: "culex" | "mosquitto" | "aedes";
  shards?: number;
}

/** A started broker. */
export interface RunningBroker {
  readonly def: BrokerDef;
  readonly pid: number;
  readonly port: number;
  /** TLS and WebSocket listeners, where the broker has them (Aedes has neither here). */
  readonly tlsPort?: number;
  readonly wsPort?: number;
  /** Set once the process exited on its own (a crash, as far as the bench is concerned). */
  readonly crashed: () => string | null;
  logTail(): string;
  /** SIGTERM, SIGKILL after 10 s; resolves to the exit code. */
  stop(): Promise<number>;
}

/** Options shared by all broker starts. */
export interface StartOptions {
  /** Culex only: pass --cpu-prof with this directory. */
  cpuProfDir?: string;
  /** Directory prepared by prepareAedes(). */
  aedesDir?: string;
  /** Extra `--set` for Culex (documented in bench/README.md when used). */
  culexSets?: string[];
  /** A YAML config file for Culex (`--config`); the `--set`s above still apply over it. */
  culexConfig?: string;
  /** Certificate and key (PEM files readable by any user) for the brokers' TLS listeners. */
  tls?: { certFile: string; keyFile: string };
}

const REPO = fromFileUrl(new URL("../", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const CULEX_LISTENING = /Listener tcp:default listening on 127\.0\.0\.1:(\d+)/;
const CULEX_TLS = /Listener ssl:default listening on 127\.0\.0\.1:(\d+)/;
const CULEX_WS = /Listener ws:default listening on 127\.0\.0\.1:(\d+)/;
const AEDES_LISTENING = /aedes listening on (\d+)/;
/** Written into the Aedes temp dir and run with node. */
const AEDES_SERVER = `import { createServer } from "node:net";
import { Aedes } from "aedes";
const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
server.listen(0, "127.0.0.1", () => console.log("aedes listening on " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * The command wrapped in `sh -c` that first raises the soft open-file limit to the hard one, so
 * that thousands of sockets fit (exec keeps the pid).
 */
export function withMaxFiles(cmd: string, args: string[]): [string, string[]] {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';
  return ["sh", ["-c", script, cmd, ...args]];
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether a program is on PATH (runs `sh -c command -v`). */
export async function onPath(program: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" })
    .output().catch(() => null);
  return r?.success ?? false;
}

/** First line of a command's output, or "" when it fails. */
export async function firstLine(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output()
    .catch(() => null);
  if (!r) return "";
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}

/**
 * Installs aedes with npm into a temp dir (reused between runs) and writes the server script.
 * Resolves to the dir and the installed version, or to a reason when it cannot.
 */
export async function prepareAedes(): Promise<{ dir: string; version: string } | string> {
  if (!(await onPath("node"))) return "node is not installed";
  if (!(await onPath("npm"))) return "npm is not installed";
  const dir = join(tmpdir(), "culex-bench-aedes");
  await Deno.mkdir(dir, { recursive: true });
  const pkg = join(dir, "node_modules", "aedes", "package.json");
  if (!(await Deno.stat(pkg).catch(() => null))) {
    const r = await new Deno.Command("npm", {
      args: ["install", "--no-audit", "--no-fund", "--loglevel=error", "aedes@1"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e: Error) => e);
    if (r instanceof Error) return `npm install aedes failed: ${r.message}`;
    if (!r.success) return `npm install aedes failed: ${new TextDecoder().decode(r.stderr).trim()}`;
  }
  await Deno.writeTextFile(join(dir, "server.mjs"), AEDES_SERVER);
  const version = (JSON.parse(await Deno.readTextFile(pkg)) as { version: string }).version;
  return { dir, version };
}

/** Starts one broker and resolves once it accepts connections on its port. */
export async function startBroker(def: BrokerDef, opts: StartOptions): Promise<RunningBroker> {
  let cmd: string;
  let args: string[];
  let cwd = REPO;
  let fixedPort = 0;
  let listening: RegExp | null = null;
  let tempDir: string | null = null;
  let tlsPort: number | undefined;
  let wsPort: number | undefined;
  let extraListening: RegExp[] = [];
  if (def.kind === "culex") {
    cmd = Deno.execPath();
    const prof = opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
    const extra = (Deno.env.get("CULEX_BENCH_DENO_FLAGS") ?? "").split(" ").filter((f) => f);
    args = [
      "run",
      "-A",
      ...prof,
      ...extra,
      "main.ts",
      "start",
      "--shards",
      String(def.shards ?? 1),
    ];
    const sets = [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.bind=127.0.0.1:0",
      "log.level=info",
    ];
    // Each run its own store file (culexSets may set another node.data_dir after this one).
    sets.push(`node.data_dir=${Deno.makeTempDirSync({ prefix: "culex_bench_data_" })}`);
    sets.push("listeners.ws.default.bind=127.0.0.1:0");
    extraListening = [CULEX_WS];
    if (opts.tls) {
      sets.push(
        "listeners.ssl.default.bind=127.0.0.1:0",
        `listeners.ssl.default.ssl_options.certfile=${opts.tls.certFile}`,
        `listeners.ssl.default.ssl_options.keyfile=${opts.tls.keyFile}`,
      );
      extraListening.push(CULEX_TLS);
    }
    if (opts.culexConfig) args.push("--config", opts.culexConfig);
    for (const s of [...sets, ...(opts.culexSets ?? [])]) args.push("--set", s);
    listening = CULEX_LISTENING;
  } else if (def.kind === "mosquitto") {
    fixedPort = freePort();
    wsPort = freePort();
    tlsPort = opts.tls ? freePort() : undefined;
    tempDir = await Deno.makeTempDir({ prefix: "culex_bench_mosquitto_" });
    const conf = join(tempDir, "mosquitto.conf");
    // Global options first (per_listener_settings is off), then one block per listener.
    const more = [`listener ${wsPort} 127.0.0.1`, "protocol websockets"];
    if (opts.tls && tlsPort) {
      more.push(
        `listener ${tlsPort} 127.0.0.1`,
        `certfile ${opts.tls.certFile}`,
        `keyfile ${opts.tls.keyFile}`,
      );
    }
    await Deno.writeTextFile(
      conf,
      [
        `listener ${fixedPort} 127.0.0.1`,
        "allow_anonymous true",
        "persistence false",
        "max_queued_messages 1000",
        "max_inflight_messages 32",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        ...more,
        "",
      ].join("\n"),
    );
    cmd = "mosquitto";
    args = ["-c", conf];
  } else {
    if (!opts.aedesDir) throw new Error("aedes is not prepared");
    cmd = "node";
    args = ["server.mjs"];
    cwd = opts.aedesDir;
    listening = AEDES_LISTENING;
  }
  const [sh, shArgs] = withMaxFiles(cmd, args);
  const child = new Deno.Command(sh, {
    args: shArgs,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let tail = "";
  let exit: string | null = null;
  let stopping = false;
  let found: (port: number) => void = () => {};
  const portFromLog = new Promise<number>((r) => (found = r));
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      tail = (tail + text).slice(-4000);
      if (Deno.env.get("CULEX_BENCH_BROKER_LOG")) {
        Deno.writeTextFileSync(Deno.env.get("CULEX_BENCH_BROKER_LOG")!, text, { append: true });
      }
      const m = listening?.exec(tail);
      if (m && extraListening.every((re) => re.test(tail))) {
        const port = (re: RegExp) => Number(re.exec(tail)?.[1]);
        if (extraListening.includes(CULEX_TLS)) tlsPort = port(CULEX_TLS);
        if (extraListening.includes(CULEX_WS)) wsPort = port(CULEX_WS);
        found(Number(m[1]));
      }
    }
  };
  void pump(child.stdout);
  void pump(child.stderr);
  const status = child.status.then((s) => {
    if (!stopping) exit = `exited on its own (code ${s.code}${s.signal ? `, ${s.signal}` : ""})`;
    if (tempDir) void Deno.remove(tempDir, { recursive: true }).catch(() => {});
    return s.code;
  });
  const stop = async () => {
    stopping = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 10_000);
    const code = await status;
    clearTimeout(t);
    return code;
  };
  try {
    const port = listening
      ? await bounded(portFromLog, status, () => tail)
      : await waitAccepting(fixedPort, status, () => tail);
    if (def.kind === "mosquitto" && wsPort) await waitAccepting(wsPort, status, () => tail);
    return {
      def,
      pid: child.pid,
      port,
      ...(tlsPort ? { tlsPort } : {}),
      ...(wsPort ? { wsPort } : {}),
      crashed: () => exit,
      logTail: () => tail,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function bounded(p: Promise<number>, status: Promise<number>, tail: () => string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fail = (why: string) => new Error(`broker ${why}; its output:\n${tail()}`);
  try {
    return await Promise.race([
      p,
      status.then((c) => Promise.reject(fail(`exited (${c}) while starting`))),
      new Promise<never>((_, rej) =>
        timer = setTimeout(() => rej(fail("did not start")), START_TIMEOUT_MS)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitAccepting(port: number, status: Promise<number>, tail: () => string) {
  let exited = false;
  void status.then(() => (exited = true));
  const end = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < end && !exited) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => null);
    if (c) {
      c.close();
      return port;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`broker did not accept on ${port}; its output:\n${tail()}`);
}

/** VmRSS and VmHWM (peak) of a process in KiB, from /proc/<pid>/status. */
export function memKiB(pid: number): { rss: number; hwm: number } {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const num = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? NaN);
    return { rss: num("VmRSS"), hwm: num("VmHWM") };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** CPU seconds (user + system, all threads) a process used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; clock ticks at
    // USER_HZ = 100 on Linux.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Open files of a process and its limit: how many more sockets it can accept. */
export function fdRoom(pid: number): number {
  try {
    const limits = Deno.readTextFileSync(`/proc/${pid}/limits`);
    const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? NaN);
    let open = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) open++;
    return soft - open;
  } catch {
    return NaN;
  }
}
