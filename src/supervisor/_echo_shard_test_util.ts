/**
 * Shared set-up of the supervisor tests (supervisor_test.ts, supervisor_flow_test.ts): a real
 * Supervisor over 127.0.0.1 port 0 with two stand-in shards (_echo_shard_test_worker.ts) that
 * echo what they read and report what they see on a BroadcastChannel of their own (echoShard()), plus a raw
 * TCP Client. Test-only; not exported from mod.ts.
 */

import { ok } from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { loadConfig } from "../config/mod.ts";
import { startSupervisor, type Supervisor } from "./mod.ts";

/** The store of the nodes started here: a temp directory, never the repository's data/. */
const DATA_DIR = Deno.makeTempDirSync({ prefix: "culex_test_data_" });

/**
 * The echo shard's worker URL and the BroadcastChannel it reports on, unique per call: test
 * modules run in parallel in one process, where a BroadcastChannel name reaches every module, so
 * one file's "resume" reached another file's paused echo shard when both used "echo-events".
 */
export function echoShard(): { workerUrl: URL; channel: string } {
  const channel = `echo-events-${crypto.randomUUID()}`;
  const workerUrl = new URL("./_echo_shard_test_worker.ts", import.meta.url);
  workerUrl.searchParams.set("channel", channel);
  return { workerUrl, channel };
}
/** The "big" reply of the echo shard: BIG_COUNT records of BIG_CHUNK bytes 0x61. */
export const BIG_CHUNK = 3000;
export const BIG_COUNT = 3500;
export const BIG = BIG_CHUNK * BIG_COUNT;

const enc = new TextEncoder();
export const dec = new TextDecoder();

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every 10 ms; throws `what` after `ms`. */
export async function until(pred: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms: ${what()}`);
    await delay(10);
  }
}

/** A v4 CONNECT (clean session, keepalive 60) for `clientId`. */
export function connectPacket(clientId: string): Uint8Array {
  const id = enc.encode(clientId);
  const body = [0, 4, 77, 81, 84, 84, 4, 2, 0, 60, id.length >> 8, id.length & 0xff, ...id];
  return Uint8Array.from([0x10, body.length, ...body]);
}

/** A TCP client that collects everything it reads; optionally stops reading. */
export class Client {
  static all = new Set<Client>();
  conn: Deno.TcpConn;
  chunks: Uint8Array[] = [];
  length = 0;
  closed = false;
  paused = false;
  done: Promise<void>;
  #resume: (() => void) | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    Client.all.add(this);
    this.done = this.#read();
  }

  static async open(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        if (this.paused) await new Promise<void>((resolve) => (this.#resume = resolve));
        const b = new Uint8Array(65536);
        const n = await this.conn.read(b);
        if (n === null) break;
        this.chunks.push(b.subarray(0, n));
        this.length += n;
      }
    } catch { /* reset or closed by us */ }
    this.closed = true;
    this.close();
  }

  resumeReading(): void {
    this.paused = false;
    this.#resume?.();
    this.#resume = null;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  text(): string {
    return dec.decode(this.bytes());
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }

  async send(b: Uint8Array | string): Promise<void> {
    const bytes = typeof b === "string" ? enc.encode(b) : b;
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  waitBytes(n: number, ms = 5000): Promise<void> {
    return until(() => this.length >= n, () => `${this.length}/${n} bytes read`, ms);
  }

  waitClosed(ms = 5000): Promise<void> {
    return until(() => this.closed, () => `socket still open, ${this.length} bytes read`, ms);
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** Opens a client and sends CONNECT for `clientId`; resolves once the echo is back. */
export async function connected(port: number, clientId: string): Promise<Client> {
  const c = await Client.open(port);
  const pkt = connectPacket(clientId);
  await c.send(pkt);
  await c.waitBytes(pkt.length);
  c.clear();
  return c;
}

/** A started echo-shard supervisor and what the test watches of it. */
export interface EchoSupervisor {
  readonly sup: Supervisor;
  readonly port: number;
  /** Log lines as "<level> <message>", category culex, from debug up. */
  readonly logs: string[];
  /** The channel the echo shards report on; also takes commands ({ cmd: "resume", index }). */
  readonly bc: BroadcastChannel;
  /** Waits (bounded) for an echo-shard event matching `re` and returns it. */
  waitEvent(re: RegExp, ms?: number): Promise<string>;
  /** Closes every Client, stops the supervisor, closes the channel and resets the logger. */
  close(): Promise<void>;
}

/**
 * Starts a Supervisor with two echo shards: max_connections 6, idle_timeout 400ms,
 * max_packet_size 4KB and 64KB rings, so the steps can reach each bound quickly.
 */
export async function startEchoSupervisor(): Promise<EchoSupervisor> {
  const logs: string[] = [];
  await configure({
    sinks: {
      mem: (r: LogRecord) => logs.push(`${r.level} ${r.message.map(String).join("")}`),
    },
    loggers: [
      { category: ["culex"], lowestLevel: "debug", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["mem"] },
    ],
  });
  const events: string[] = [];
  const { workerUrl, channel } = echoShard();
  const bc = new BroadcastChannel(channel);
  bc.onmessage = (e: MessageEvent<{ index?: number; text?: string }>) => {
    if (e.data.text !== undefined) events.push(`${e.data.index}: ${e.data.text}`);
  };
  const waitEvent = async (re: RegExp, ms = 5000): Promise<string> => {
    await until(() => events.some((e) => re.test(e)), () => `no event ${re} in ${events}`, ms);
    return events.find((e) => re.test(e))!;
  };

  const config = loadConfig({
    shards: 2,
    sets: [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.enable=false",
      `node.data_dir=${DATA_DIR}`,
      "listeners.tcp.default.max_connections=6",
      "mqtt.idle_timeout=400ms",
      "mqtt.max_packet_size=4KB",
      "ipc.ring_size=64KB",
    ],
  });
  const sup = await startSupervisor(config, { workerUrl });
  const addr = sup.addresses.get("tcp:default");
  ok(addr, `addresses: ${[...sup.addresses.keys()]}`);
  const port = addr.port;
  ok(port > 0);
  ok(logs.includes(`info Listener tcp:default listening on 127.0.0.1:${port}`), logs.join("\n"));
  return {
    sup,
    port,
    logs,
    bc,
    waitEvent,
    async close() {
      for (const c of Client.all) {
        c.resumeReading();
        c.close();
      }
      await Promise.all([...Client.all].map((c) => c.done));
      await sup.stop();
      bc.close();
      await reset();
    },
  };
}
