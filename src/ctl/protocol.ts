/**
 * The local control protocol between `culex ctl|ping|pid|stop` and a running node: where its
 * Unix socket, cookie and pid file live in `node.data_dir`, the request and answer shapes (one
 * JSON object per line each way, one request per connection), and the client side. The server
 * side is src/supervisor/ctl_server.ts. The socket is mode 0600 and every request carries the
 * node's cookie (a random secret the node writes, mode 0600, at each start), so only the user
 * the node runs as can control it. Owns nothing but these names and the client connection.
 *
 * @module
 */

import { join } from "node:path";

/** `<data_dir>/culex.sock`: the node's control socket. */
export function socketPath(dataDir: string): string {
  return join(dataDir, "culex.sock");
}

/** `<data_dir>/culex.cookie`: the secret every request must carry. */
export function cookiePath(dataDir: string): string {
  return join(dataDir, "culex.cookie");
}

/** `<data_dir>/culex.pid`: the running node's process id (for service managers). */
export function pidPath(dataDir: string): string {
  return join(dataDir, "culex.pid");
}

/** One request: the command words after `culex`, e.g. ["ctl", "clients", "list"]. */
export interface CtlRequest {
  readonly cookie: string;
  readonly args: readonly string[];
}

/** One answer: the text to print as is, and the exit status of the command. */
export interface CtlAnswer {
  readonly code: number;
  readonly text: string;
}

/** Longest request line the server reads. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Longest answer the client reads (a `clients list` of many clients). */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** The node is not running (or not reachable) at `dataDir`. */
export class NodeDownError extends Error {
  constructor(dataDir: string, why: string) {
    super(`Node is not running at ${dataDir} (${why})`);
    this.name = "NodeDownError";
  }
}

/**
 * Sends `args` to the node whose data directory is `dataDir` and resolves with its answer.
 * Rejects with NodeDownError when no node listens there, or when the answer does not come
 * within `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * const answer = await ctlRequest("/var/lib/culex", ["ctl", "status"]);
 * console.log(answer.text); // Node 'culex@127.0.0.1' 0.1.0 is started
 * ```
 */
export async function ctlRequest(
  dataDir: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<CtlAnswer> {
  let cookie: string;
  try {
    cookie = (await Deno.readTextFile(cookiePath(dataDir))).trim();
  } catch (e) {
    throw new NodeDownError(dataDir, e instanceof Deno.errors.NotFound ? "no cookie" : String(e));
  }
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath(dataDir) });
  } catch (e) {
    throw new NodeDownError(dataDir, e instanceof Error ? e.message : String(e));
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const line = JSON.stringify({ cookie, args } satisfies CtlRequest) + "\n";
    const bytes = new TextEncoder().encode(line);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
      if (total > MAX_ANSWER_BYTES) throw new Error("answer too large");
      if (buf[n - 1] === 0x0a) break;
    }
    const text = new TextDecoder().decode(concat(chunks, total)).trim();
    if (text === "") throw new NodeDownError(dataDir, "no answer");
    const answer = JSON.parse(text) as CtlAnswer;
    if (typeof answer.code !== "number" || typeof answer.text !== "string") {
      throw new Error(`bad answer from the node: ${text.slice(0, 200)}`);
    }
    return answer;
  } catch (e) {
    if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
      throw new NodeDownError(dataDir, `no answer within ${timeoutMs} ms`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
