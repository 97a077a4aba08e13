/**
 * Test helper (part of broker.ts): a started broker process as a BrokerHandle — its output
 * collected line by line, its listeners' ports read from their start-up lines, signals, and a
 * bounded stop — and the options startBroker() takes. Owns the child process it is given.
 */

/** Any listener's start-up line: `Listener <type>:<name> listening on <host>:<port>`. */
const ANY_LISTENING =
  /Listener ((?:tcp|ssl|ws|wss|http|https):[A-Za-z0-9_-]+) listening on (\S+):(\d+)/g;
/** How long a broker may take to log its listeners. */
export const START_TIMEOUT_MS = 20_000;
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

/** Listener name → port, from the start-up lines in `logs`. */
export function listenerPorts(logs: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of logs.matchAll(ANY_LISTENING)) out.set(m[1]!, Number(m[3]));
  return out;
}

/**
 * Collects a child's output line by line and resolves once `portOf` finds the listening port.
 * The returned handle keeps collecting until the process exits.
 */
export async function watchStartup(
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
