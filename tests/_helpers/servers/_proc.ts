/**
 * Test helper shared by the server starters in this folder: a free loopback port, a temp dir,
 * a child process whose output is kept, waiting until a port accepts connections, and running
 * a command as an unprivileged user when the tests run as root (PostgreSQL refuses root).
 * Owns only the processes and dirs it creates; every wait is bounded.
 */

/** A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed again at once). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running server process. */
export interface ServerProcess {
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  logs(): string;
  /** SIGKILL: the server dies at once, as in a crash. */
  kill(): void;
  /**
   * SIGSTOP / SIGCONT: a hung server (connections stay open, nothing answers). Each resolves
   * once every thread of the tree is seen stopped / running (a stop that arrives right after a
   * continue can be lost to the continue still in flight, so it is sent again until it holds).
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd args` with its output collected. */
export function spawn(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): ServerProcess {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out = (out + dec.decode(chunk)).slice(-200_000);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const signal = (sig: Deno.Signal) => {
    if (exited) return;
    // The whole tree: PostgreSQL serves each connection from a child of the postmaster.
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        Deno.kill(pid, sig);
      } catch { /* already gone */ }
    }
  };
  return {
    pid: child.pid,
    logs: () => out,
    kill: () => signal("SIGKILL"),
    pause: async () => {
      for (let i = 0; i < 50 && !exited; i++) {
        signal("SIGSTOP");
        await new Promise((r) => setTimeout(r, 20));
        // Zombies (children the stopped parent cannot reap) and dead tasks do not run either.
        if (treeState(child.pid).every((st) => "TtZX".includes(st))) return;
      }
      throw new Error(`${cmd} (${child.pid}) did not stop`);
    },
    resume: async () => {
      for (let i = 0; i < 50 && !exited; i++) {
        signal("SIGCONT");
        await new Promise((r) => setTimeout(r, 10));
        if (treeState(child.pid).every((st) => st !== "T" && st !== "t")) return;
      }
    },
    async stop(graceMs = 5_000) {
      signal("SIGCONT");
      signal("SIGTERM");
      const t = setTimeout(() => signal("SIGKILL"), graceMs);
      await status;
      clearTimeout(t);
      await pumps;
    },
  };
}

/** Process ids whose parent chain leads to `root` (read from /proc; Linux). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ")".
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parent.set(Number(e.name), ppid);
      } catch { /* exited meanwhile */ }
    }
  } catch {
    return [];
  }
  const out: number[] = [];
  const want = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (want.has(ppid) && !want.has(pid)) {
        want.add(pid);
        out.push(pid);
        grew = true;
      }
    }
  }
  return out;
}

/** The scheduler state letter of every thread of `root` and its descendants (Linux /proc). */
export function treeState(root: number): string[] {
  const out: string[] = [];
  for (const pid of [root, ...descendants(root)]) {
    try {
      for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        out.push(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
      }
    } catch { /* gone */ }
  }
  return out;
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `timeoutMs` with `logs`. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  logs: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms; logs:\n${logs()}`);
}

/** Runs a command to completion; throws with its output when it fails. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const r = await child.output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}):\n${text}`);
  return text;
}

/** True when the tests run as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/**
 * `[cmd, args]` that run `cmd args` as `user` when root (setpriv, util-linux), unchanged
 * otherwise. The user must exist (Debian's postgresql package creates "postgres"; "nobody"
 * exists everywhere).
 */
export function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [cmd, args];
  return ["setpriv", [
    `--reuid=${user}`,
    `--regid=${user === "nobody" ? "nogroup" : user}`,
    "--clear-groups",
    "--",
    cmd,
    ...args,
  ]];
}

/** A temp dir that `user` may write (chowned when root). */
export async function tempDirFor(user: string | null, prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  if (user && isRoot()) await run("chown", ["-R", `${user}:`, dir]);
  return dir;
}
