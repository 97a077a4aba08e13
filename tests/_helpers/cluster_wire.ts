/**
 * Test helper for the cluster-port suite (30_cluster_fuzz, issue 15): talks to a node's cluster
 * port as anyone could — a HELLO frame of any version and cluster, raw bytes on a fresh
 * connection, a silent connection from a chosen 127.0.0.x address — and reads what the node
 * answers until it closes the connection (its REFUSE reason, if any). Owns the connections it
 * opens and closes them.
 */

import { connect as netConnect } from "node:net";
import { FieldReader, FieldWriter } from "../../src/ipc/mod.ts";
import { Frame, FrameDecoder } from "../../src/cluster/proto_v1.ts";
import { nodeFrame } from "./node_frame.ts";

/** The cluster name of the test nodes (`cluster.name`, default). */
const CLUSTER = "culex";
/** How long the test waits for A to close one bad connection (A's own deadline is 10 s). */
const CLOSE_WAIT_MS = 30_000;

/** What came back on one connection until A closed it. */
export interface Answer {
  /** A closed the connection within CLOSE_WAIT_MS. */
  readonly closed: boolean;
  /** Bytes A sent. */
  readonly bytes: number;
  /** The reason of A's REFUSE frame, if it sent one. */
  readonly refusal: string | null;
}

export function hello(node: string, nonce: Uint8Array, proto = 1, cluster = CLUSTER): Uint8Array {
  return nodeFrame(
    Frame.Hello,
    new FieldWriter().u8(proto).str(cluster).str(node).bytes(nonce).finish(),
  );
}

/** Reads until A closes `conn` (or CLOSE_WAIT_MS passes); notes A's REFUSE reason. */
export async function answerOf(conn: Deno.TcpConn): Promise<Answer> {
  const decoder = new FrameDecoder(1 << 20);
  const buf = new Uint8Array(64 * 1024);
  let bytes = 0;
  let refusal: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) =>
    timer = setTimeout(() => r("timeout"), CLOSE_WAIT_MS)
  );
  let closed = false;
  try {
    for (;;) {
      const n = await Promise.race([conn.read(buf).catch(() => null), timeout]);
      if (n === "timeout") break;
      if (n === null) {
        closed = true;
        break;
      }
      bytes += n;
      decoder.push(buf.subarray(0, n), (type, payload) => {
        if (type === Frame.Refuse) refusal = new FieldReader(payload).str();
      });
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return { closed, bytes, refusal };
}

/** Connects to `port`, writes `bytes` (A may close first) and waits for A's answer. */
export async function send(port: number, bytes: Uint8Array): Promise<Answer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const answer = answerOf(conn);
  await conn.write(bytes).catch(() => 0);
  return await answer;
}

/**
 * A connection from `localAddress` (127.0.0.0/8: node:net can pick the source, Deno.connect
 * cannot) that sends nothing; resolves when A closed it, with the bytes A sent before.
 */
export function silent(localAddress: string, port: number): Promise<Omit<Answer, "refusal">> {
  return new Promise((resolve) => {
    let bytes = 0;
    const socket = netConnect({ host: "127.0.0.1", port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, bytes });
    }, CLOSE_WAIT_MS);
    socket.on("data", (chunk: Uint8Array) => bytes += chunk.length);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closed: true, bytes });
    });
  });
}
