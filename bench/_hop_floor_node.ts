/**
 * One "node" of bench/hop_floor.ts: the broker's process model with no broker logic. The main
 * isolate (the supervisor) owns the sockets: clients on a node:net listener, and the node link
 * (node A dials `--peer`, node B accepts on its link listener), all with setNoDelay as the real
 * listeners and links (src/supervisor/listener_tcp.ts, src/cluster/peer_link.ts). One worker
 * (_hop_floor_worker.ts) stands for the shard, joined by the project's rings and doorbells.
 *
 * Every message is a FRAME-byte record: [flags][u32 seq][filler]. The main isolate puts each one
 * a client or the link brings into the worker's ring (committed in the microtask after the read,
 * as the supervisor does), the worker copies it back, and the main isolate's ring loop (the
 * supervisor's ShardOutput.run: waitDoorbell, i.e. Atomics.waitAsync) sends it on: on node A to
 * the link (REMOTE) or to A's subscriber connection, with a 4-byte ack (the seq) to the sender
 * unless NO_ACK, where a broker would send the PUBACK; on node B to B's subscriber connection.
 * With SKIP_B, B's main writes a message from the link to its subscriber at once (one wake-up
 * fewer). As in the supervisor, a pass gathers its output and writes the link first, then the
 * client sockets.
 *
 * `deno run -A bench/_hop_floor_node.ts [--peer PORT]`: prints `ports <client> <link>` when up.
 */

import { connect, createServer, type Socket } from "node:net";
import { Buffer } from "node:buffer";
import {
  createDoorbell,
  createRing,
  readDoorbell,
  type RingBuffers,
  RingReader,
  RingWriter,
  waitDoorbell,
} from "../src/ipc/mod.ts";

/** Bytes of one message frame, and its flags (byte 0). */
export const FRAME = 64;
/**
 * Steps stamped into a frame (f64, `performance.timeOrigin + performance.now()` ms, at byte
 * 8 + 8 × step): A's main read it, A's worker copied it, A's main drained it, B's main read it,
 * B's worker copied it, B's main drained it.
 */
export const STEPS = ["A main", "A worker", "A main back", "B main", "B worker", "B main back"];
export const A_READ = 0;
export const B_READ = 3;

/** Writes the time of `step` into `frame` (a DataView write: well under a µs). */
export function stamp(frame: Uint8Array, step: number): void {
  new DataView(frame.buffer, frame.byteOffset, FRAME)
    .setFloat64(8 + 8 * step, performance.timeOrigin + performance.now(), true);
}
export const REMOTE = 1;
export const SKIP_B = 2;
export const NO_ACK = 4;
/** A client's first frame: byte 1 says whether it publishes ("P") or subscribes ("S"). */
export const HELLO = 0x80;
/** Ring record kind main → worker; the worker answers with kind IN + 1. */
const IN = 1;

/** What the node's main isolate posts once: the two rings and both doorbells. */
export interface WorkerInit {
  fromMain: RingBuffers;
  toMain: RingBuffers;
  /** This worker's doorbell (the main isolate rings it) and the main isolate's. */
  bell: SharedArrayBuffer;
  mainBell: SharedArrayBuffer;
  /** The step the worker stamps (STEPS). */
  step: number;
}

/** Cuts a socket's byte stream into FRAME-byte frames. */
export class Framer {
  #rest: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let bytes = chunk;
    if (this.#rest.length > 0) {
      bytes = new Uint8Array(this.#rest.length + chunk.length);
      bytes.set(this.#rest);
      bytes.set(chunk, this.#rest.length);
    }
    let at = 0;
    for (; at + FRAME <= bytes.length; at += FRAME) onFrame(bytes.subarray(at, at + FRAME));
    this.#rest = bytes.slice(at);
  }
}

function write(socket: Socket | null, parts: Uint8Array[]): void {
  if (socket === null || parts.length === 0) return;
  socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  parts.length = 0;
}

async function main(peerPort: number | null): Promise<void> {
  const isA = peerPort !== null;
  const toWorker = createRing(1 << 20);
  const fromWorker = createRing(1 << 20);
  const bell = createDoorbell();
  const workerBell = createDoorbell();
  const worker = new Worker(new URL("./_hop_floor_worker.ts", import.meta.url), {
    type: "module",
  });
  const init: WorkerInit = {
    fromMain: toWorker,
    toMain: fromWorker,
    bell: workerBell,
    mainBell: bell,
    step: (isA ? A_READ : B_READ) + 1,
  };
  worker.postMessage(init);
  const ring = new RingWriter(toWorker, workerBell);
  const reader = new RingReader(fromWorker);

  let pub: Socket | null = null;
  let sub: Socket | null = null;
  let link: Socket | null = null;
  const linkOut: Uint8Array[] = [];
  const subOut: Uint8Array[] = [];
  const pubOut: Uint8Array[] = [];

  const onRecord = (_kind: number, frame: Uint8Array) => {
    stamp(frame, (isA ? A_READ : B_READ) + 2);
    const flags = frame[0]!;
    if (isA && (flags & REMOTE) !== 0) linkOut.push(frame);
    else subOut.push(frame);
    if (isA && (flags & NO_ACK) === 0) pubOut.push(frame.subarray(1, 5));
  };

  const clients = createServer((s) => {
    s.setNoDelay(true);
    const framer = new Framer();
    s.on("data", (chunk: Uint8Array) =>
      framer.push(chunk, (frame) => {
        if (frame[0] === HELLO) {
          if (frame[1] === "P".charCodeAt(0)) pub = s;
          else sub = s;
        } else {
          stamp(frame, A_READ);
          ring.write(IN, frame);
        }
      }));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => clients.listen(0, "127.0.0.1", r));

  // Node B accepts the link; node A dials it.
  const links = createServer((s) => {
    s.setNoDelay(true);
    link = s;
    const framer = new Framer();
    s.on("data", (chunk: Uint8Array) =>
      framer.push(chunk, (frame) => {
        stamp(frame, B_READ);
        // Skipped worker: written at once, a copy since the frame may be a view of a joined read.
        if ((frame[0]! & SKIP_B) !== 0) sub?.write(frame.slice());
        else ring.write(IN, frame);
      }));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => links.listen(0, "127.0.0.1", r));
  if (isA) {
    const s = connect({ host: "127.0.0.1", port: peerPort });
    s.setNoDelay(true);
    await new Promise((r) => s.once("connect", r));
    // Again once connected, as peer_link.ts does: a dialled socket may not keep the first.
    s.setNoDelay(true);
    link = s;
  }
  const port = (server: typeof clients) => (server.address() as { port: number }).port;
  console.log(`ports ${port(clients)} ${port(links)}`);

  // The supervisor's ring loop (src/supervisor/_shard_output.ts, ShardOutput.run).
  for (;;) {
    const seen = readDoorbell(bell);
    const work = reader.drain(onRecord, 256);
    write(link, linkOut);
    write(sub, subOut);
    write(pub, pubOut);
    if (work === 0 || readDoorbell(bell) === seen) await waitDoorbell(bell, seen);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--peer");
  await main(i >= 0 ? Number(Deno.args[i + 1]) : null);
}
