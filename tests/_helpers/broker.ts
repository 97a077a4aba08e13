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
 */

const LISTENING = /Listener tcp:default listening on ([\d.]+):(\d+)/;
/** Any listener's start-up line: `Listener <type>:<name> listening on <host>:<port>`. */
const ANY_LISTENING =
  /Listener ((?:tcp|ssl|ws|wss|http|https):[A-Za-z0-9_-]+) listening on (\S+):(\d+)/g;
const MOSQUITTO_RUNNING = /mosquitto version \S+ running/;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** A running broker. */
export interface BrokerHandle {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  /** True when the broker under test is Mosquitto (CULEX_TEST_BROKER=mosquitto). */
  readonly isMosquitto: boolean;
  /** Process id of the broker (for /proc readings such as its memory). */
  readonly pid: number;
  /** Everything the broker wrote to stdout and stderr so far. */
  logs(): string;
  /**
   * The port of listener `name` ("ssl:default", "ws:default", ...) from its start-up line; throws
   * when the broker did not log one.
   */
  portOf(name: string): number;
  /** Sends a signal (e.g. "SIGHUP") to the broker process. */
  signal(sig: Deno.Signal): void;
  /** SIGTERM, then waits for exit (SIGKILL after 10 s); resolves to the exit code. */
  stop(): Promise<number>;
  /** SIGKILL without waiting; call stop() afterwards to reap the process. */
  kill(): void;
}

/** Options for startBroker(). */
export interface StartBrokerOptions {
  /** Shard workers (`--shards`); default 1. */
  shards?: number;
  /** Extra `--set key=value` overrides, e.g. `mqtt.max_inflight=2`. */
  sets?: string[];
  /** A YAML file passed as `--config` (authentication lists cannot be given with --set). */
  configFile?: string;
  /** Extra environment variables for the broker process. */
  env?: Record<string, string>;
  /** A YAML config file's text, written to a temp file and passed with --config. */
  config?: string;
  /** Listeners besides tcp:default ("ssl:default", ...) whose start-up line to wait for. */
  listeners?: string[];
  /**
   * node.data_dir of the broker (the durable store's directory). Default: a new temp directory,
   * removed at stop(), so tests never share a store file. Pass one to restart a broker on the
   * same store (it is left in place).
   */
  dataDir?: string;
}

/** Which broker the suite runs against: "culex" (default) or "mosquitto". */
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

/** Listener name → port, from the start-up lines in `logs`. */
function listenerPorts(logs: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of logs.matchAll(ANY_LISTENING)) out.set(m[1]!, Number(m[3]));
  return out;
}

/** Mosquitto counterparts of the `--set` keys the suite uses. */
const MOSQUITTO_GLOBAL: Record<string, string> = {
  "mqtt.max_packet_size": "max_packet_size",
  "mqtt.max_inflight": "max_inflight_messages",
  "mqtt.max_mqueue_len": "max_queued_messages",
};
const MOSQUITTO_LISTENER: Record<string, string> = {
  "listeners.tcp.default.max_connections": "max_connections",
  "mqtt.max_topic_alias": "max_topic_alias",
};

function parseSize(value: string): string {
  const m = /^(\d+)\s*(KB|MB|B)?$/i.exec(value);
  if (!m) return value;
  const unit = (m[2] ?? "B").toUpperCase();
  const n = Number(m[1]) * (unit === "KB" ? 1024 : unit === "MB" ? 1024 * 1024 : 1);
  return String(n);
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await Promise.resolve();
  return port;
}

async function startMosquitto(opts: StartBrokerOptions): Promise<BrokerHandle> {
  const port = await freePort();
  const global: string[] = ["allow_anonymous true", "persistence false", "log_dest stderr"];
  global.push("log_type error", "log_type warning", "log_type notice", "log_type information");
  const listener: string[] = [`listener ${port} 127.0.0.1`];
  const ignored: string[] = [];
  for (const s of opts.sets ?? []) {
    const eq = s.indexOf("=");
    const key = s.slice(0, eq);
    const value = s.slice(eq + 1);
    const g = MOSQUITTO_GLOBAL[key];
    const l = MOSQUITTO_LISTENER[key];
    if (g) global.push(`${g} ${key === "mqtt.max_packet_size" ? parseSize(value) : value}`);
    else if (l) listener.push(`${l} ${value}`);
    else ignored.push(s);
  }
  const dir = await Deno.makeTempDir({ prefix: "culex_test_mosquitto_" });
  const conf = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(conf, [...global, ...listener, ""].join("\n"));
  const child = new Deno.Command("mosquitto", {
    args: ["-c", conf],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const note = ignored.length ? `(test helper: no mosquitto equivalent for ${ignored})\n` : "";
  const handle = await watchStartup(
    child,
    (line) => MOSQUITTO_RUNNING.test(line) ? port : null,
    `mosquitto -c ${conf}`,
    true,
    note,
  );
  const stop = handle.stop;
  return {
    ...handle,
    async stop() {
      const code = await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return code;
    },
  };
}

/**
 * Collects a child's output line by line and resolves once `portOf` finds the listening port.
 * The returned handle keeps collecting until the process exits.
 */
async function watchStartup(
  child: Deno.ChildProcess,
  portOf: (line: string) => number | null,
  what: string,
  isMosquitto: boolean,
  preface = "",
): Promise<BrokerHandle> {
  let logs = preface;
  let resolvePort: (port: number) => void = () => {};
  const portFound = new Promise<number>((resolve) => resolvePort = resolve);

  async function pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        partial += value;
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          logs += line + "\n";
          const port = portOf(line);
          if (port !== null) resolvePort(port);
        }
      }
      if (partial) logs += partial + "\n";
    } finally {
      reader.releaseLock();
    }
  }
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await pumps;
    return s.code;
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
  });
  const first = await Promise.race([
    portFound,
    exited.then((code) => ({ code })),
    timedOut,
  ]);
  clearTimeout(timer);

  async function stop(): Promise<number> {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const hard = new Promise<void>((resolve) => {
      killTimer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    const code = await Promise.race([exited, hard.then(() => exited)]);
    clearTimeout(killTimer);
    return code;
  }

  if (typeof first !== "number") {
    const reason = first === "timeout"
      ? `did not report its listener within ${START_TIMEOUT_MS} ms`
      : `exited with code ${first.code} before listening`;
    await stop();
    throw new Error(`Broker ${reason}: ${what}\n--- broker output ---\n${logs}`);
  }
  const port = first;
  return {
    host: "127.0.0.1",
    port,
    url: `mqtt://127.0.0.1:${port}`,
    isMosquitto,
    pid: child.pid,
    logs: () => logs,
    portOf(name: string): number {
      const p = listenerPorts(logs).get(name);
      if (p === undefined) throw new Error(`No "Listener ${name} listening" line in:\n${logs}`);
      return p;
    },
    signal(sig: Deno.Signal) {
      child.kill(sig);
    },
    stop,
    kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
    },
  };
}
