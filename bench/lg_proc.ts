/**
 * Runner side of the load generator: prepares the runtime (bench/loadgen.ts bundled once for
 * Node with `deno bundle`, or run by Deno directly), spawns loadgen processes with their spec, and
 * speaks their line protocol (ready / go / done / close / closed). Owns those child processes.
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { withMaxFiles } from "./brokers.ts";
import type { LoadSpec } from "./loadgen.ts";

const LOADGEN = fromFileUrl(new URL("./loadgen.ts", import.meta.url));
const EVENT_TIMEOUT_MS = 120_000;

/** How loadgen processes are run. */
export interface LoadRuntime {
  kind: "node" | "deno";
  /** Program and the arguments before the spec. */
  cmd: string;
  args: string[];
}

/** Bundles loadgen.ts for Node into dir, or returns the Deno runtime. */
export async function prepareRuntime(kind: "node" | "deno", dir: string): Promise<LoadRuntime> {
  if (kind === "deno") {
    return { kind, cmd: Deno.execPath(), args: ["run", "--allow-net=127.0.0.1", LOADGEN] };
  }
  const out = join(dir, "loadgen.mjs");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, LOADGEN],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno bundle: ${new TextDecoder().decode(r.stderr)}`);
  return { kind, cmd: "node", args: [out] };
}

type Event = Record<string, unknown> & { ev: string };

/** One loadgen child process. */
export class LoadProc {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #events: Event[] = [];
  #wake: (() => void) | null = null;
  #exited = false;
  #stderr = "";

  /** Process id (the sh wrapper execs the runtime, so this is the runtime's pid). */
  get pid(): number {
    return this.#child.pid;
  }

  constructor(rt: LoadRuntime, spec: LoadSpec) {
    const [sh, args] = withMaxFiles(rt.cmd, [...rt.args, JSON.stringify(spec)]);
    const child = new Deno.Command(sh, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    void this.#read();
    void (async () => {
      for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + t).slice(-2000);
      }
    })();
    void child.status.then(() => {
      this.#exited = true;
      this.#wake?.();
    });
  }

  async #read(): Promise<void> {
    let buf = "";
    for await (const t of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += t;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.#events.push(JSON.parse(line) as Event);
        } catch {
          this.#events.push({ ev: "error", message: `bad line from loadgen: ${line}` });
        }
        this.#wake?.();
      }
    }
  }

  /** Waits for the next event, which must be `ev`; rejects on "error" or exit. */
  async expect(ev: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<Event> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const e = this.#events.shift();
      if (e?.ev === ev) return e;
      if (e) throw new Error(`loadgen: ${String(e.message ?? JSON.stringify(e))}`);
      if (this.#exited) {
        await new Promise((r) => setTimeout(r, 50)); // let stdout finish
        if (this.#events.length > 0) continue;
        throw new Error(`loadgen exited before "${ev}": ${this.#stderr.trim()}`);
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`loadgen: no "${ev}" within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.#wake = null;
    }
  }

  /** Sends one control line ("go", "close"). */
  async send(word: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(word + "\n"));
  }

  /** Ends the process (closing its stdin ends it; SIGKILL if it lingers). */
  async end(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5_000);
    await this.#child.status;
    clearTimeout(t);
  }
}

/** Spawns one process per spec, waits until all are ready, then sends "go" to all. */
export async function startAll(rt: LoadRuntime, specs: LoadSpec[]): Promise<LoadProc[]> {
  const procs = specs.map((s) => new LoadProc(rt, s));
  try {
    await Promise.all(procs.map((p) => p.expect("ready")));
    await Promise.all(procs.map((p) => p.send("go")));
  } catch (err) {
    await Promise.all(procs.map((p) => p.end()));
    throw err;
  }
  return procs;
}
