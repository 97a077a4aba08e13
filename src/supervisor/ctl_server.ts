/**
 * CtlServer: the node's end of the local control protocol (src/ctl/protocol.ts). Listens on
 * `<data_dir>/culex.sock` (mode 0600), writes a fresh random cookie to `<data_dir>/culex.cookie`
 * (mode 0600) and the pid file, and answers one JSON-line request per connection: `ping`,
 * `pid`, `stop`, and `ctl ...` through the command table given to it (src/supervisor/ctl.ts).
 * Bounded: at most MAX_CONNECTIONS requests at once, each line at most MAX_REQUEST_BYTES, each
 * connection closed after its answer or after REQUEST_TIMEOUT_MS. Owns the socket, the cookie
 * and the pid file, and removes all three at stop.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { timingSafeEqual } from "node:crypto";
import {
  cookiePath,
  type CtlAnswer,
  type CtlRequest,
  MAX_REQUEST_BYTES,
  pidPath,
  socketPath,
} from "../ctl/protocol.ts";

const log = getLogger(["culex", "supervisor"]);

/** Control connections served at once; more wait in the kernel's backlog. */
const MAX_CONNECTIONS = 16;
/** A client that sends no full request in this time is dropped. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Runs one `ctl` command (the words after `ctl`). */
export type CtlHandler = (args: readonly string[]) => Promise<CtlAnswer>;

/**
 * Throws when another node answers on the data directory's control socket. Asked first at start
 * too: two nodes on one directory would share its store, so the second must stop before it opens
 * the store or joins a cluster, not after.
 */
export async function assertDataDirFree(dataDir: string): Promise<void> {
  const path = socketPath(dataDir);
  if (await answers(path)) {
    throw new Error(`another node is running on ${dataDir} (${path} answers)`);
  }
}

/** See the file header. */
export class CtlServer {
  readonly #dataDir: string;
  readonly #run: CtlHandler;
  readonly #requestStop: () => void;
  #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr> | null = null;
  #cookie = new Uint8Array(0);
  #active = new Set<Deno.UnixConn>();
  #serving: Promise<void> | null = null;

  constructor(dataDir: string, run: CtlHandler, requestStop: () => void) {
    this.#dataDir = dataDir;
    this.#run = run;
    this.#requestStop = requestStop;
  }

  /**
   * Opens the socket. Fails when another node already answers on it (two nodes on one data
   * directory would share its store); a stale socket from a crashed node is replaced.
   */
  async start(): Promise<void> {
    const path = socketPath(this.#dataDir);
    await Deno.mkdir(this.#dataDir, { recursive: true });
    await assertDataDirFree(this.#dataDir);
    await Deno.remove(path).catch(() => {});
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const hex = Array.from(secret, (b) => b.toString(16).padStart(2, "0")).join("");
    this.#cookie = new TextEncoder().encode(hex);
    // Removed first: writeTextFile keeps the mode of an existing file.
    await Deno.remove(cookiePath(this.#dataDir)).catch(() => {});
    await Deno.writeTextFile(cookiePath(this.#dataDir), `${hex}\n`, { mode: 0o600 });
    this.#listener = Deno.listen({ transport: "unix", path });
    await Deno.chmod(path, 0o600);
    await Deno.writeTextFile(pidPath(this.#dataDir), `${Deno.pid}\n`);
    this.#serving = this.#serve(this.#listener);
  }

  /** Closes the socket and removes the socket, cookie and pid files. */
  async stop(): Promise<void> {
    const l = this.#listener;
    if (!l) return;
    this.#listener = null;
    l.close();
    for (const c of this.#active) c.close();
    await this.#serving?.catch(() => {});
    for (const p of [socketPath, cookiePath, pidPath]) {
      await Deno.remove(p(this.#dataDir)).catch(() => {});
    }
  }

  async #serve(listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.#active.size >= MAX_CONNECTIONS) {
          conn.close();
          continue;
        }
        this.#active.add(conn);
        void this.#handle(conn).finally(() => {
          this.#active.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed (stop()).
          }
        });
      }
    } catch (err) {
      if (this.#listener) log.error("Control socket failed: {error}", { error: String(err) });
    }
  }

  async #handle(conn: Deno.UnixConn): Promise<void> {
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    let answer: CtlAnswer;
    let stop = false;
    try {
      const req = await readRequest(conn);
      answer = req ? await this.#answer(req) : { code: 1, text: "Error: bad request" };
      stop = answer.code === 0 && req?.args.length === 1 && req.args[0] === "stop";
    } catch (err) {
      answer = { code: 1, text: `Error: ${err instanceof Error ? err.message : String(err)}` };
    }
    clearTimeout(timer);
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(answer) + "\n");
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    } catch {
      // The client went away.
    }
    // Answered first, then the node stops as on SIGTERM.
    if (stop) this.#requestStop();
  }

  async #answer(req: CtlRequest): Promise<CtlAnswer> {
    const given = new TextEncoder().encode(String(req.cookie ?? ""));
    if (given.length !== this.#cookie.length || !timingSafeEqual(given, this.#cookie)) {
      log.warning("Control request refused: wrong cookie");
      return { code: 1, text: "Error: wrong cookie" };
    }
    const [cmd, ...rest] = req.args;
    switch (cmd) {
      case "ping":
        return { code: 0, text: "pong" };
      case "pid":
        return { code: 0, text: String(Deno.pid) };
      case "stop":
        return { code: 0, text: "ok" };
      case "ctl":
        return await this.#run(rest);
      default:
        return { code: 1, text: `Error: unknown request ${JSON.stringify(cmd)}` };
    }
  }
}

/** Reads one request line; null when it is not a valid request. */
async function readRequest(conn: Deno.UnixConn): Promise<CtlRequest | null> {
  const buf = new Uint8Array(MAX_REQUEST_BYTES);
  let len = 0;
  while (len < buf.length) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) break;
    len += n;
    if (buf[len - 1] === 0x0a) break;
  }
  try {
    const req = JSON.parse(new TextDecoder().decode(buf.subarray(0, len))) as CtlRequest;
    const ok = Array.isArray(req.args) && req.args.every((a) => typeof a === "string");
    return ok ? req : null;
  } catch {
    return null;
  }
}

/** Whether something accepts connections on the socket at `path`. */
async function answers(path: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path });
    c.close();
    return true;
  } catch {
    return false;
  }
}
