/**
 * Unit tests of src/supervisor/ end to end over real TCP sockets, against the stand-in shard
 * _echo_shard_test_worker.ts (no MQTT beyond the supervisor's CONNECT peek). Listens on
 * 127.0.0.1 port 0; the echo shards report what they see on the BroadcastChannel "echo-events".
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { loadConfig } from "../config/mod.ts";
import { startSupervisor } from "./mod.ts";
import { shardOf } from "../ipc/mod.ts";

/** The store of the nodes started here: a temp directory, never the repository's data/. */
const DATA_DIR = Deno.makeTempDirSync({ prefix: "culex_test_data_" });

const workerUrl = new URL("./_echo_shard_test_worker.ts", import.meta.url);
/** The "big" reply of the echo shard: BIG_COUNT records of BIG_CHUNK bytes 0x61. */
const BIG_CHUNK = 3000;
const BIG_COUNT = 3500;
const BIG = BIG_CHUNK * BIG_COUNT;

const enc = new TextEncoder();
const dec = new TextDecoder();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every 10 ms; throws `what` after `ms`. */
async function until(pred: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms: ${what()}`);
    await delay(10);
  }
}

/** A v4 CONNECT (clean session, keepalive 60) for `clientId`. */
function connectPacket(clientId: string): Uint8Array {
  const id = enc.encode(clientId);
  const body = [0, 4, 77, 81, 84, 84, 4, 2, 0, 60, id.length >> 8, id.length & 0xff, ...id];
  return Uint8Array.from([0x10, body.length, ...body]);
}

/** A TCP client that collects everything it reads; optionally stops reading. */
class Client {
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
async function connected(port: number, clientId: string): Promise<Client> {
  const c = await Client.open(port);
  const pkt = connectPacket(clientId);
  await c.send(pkt);
  await c.waitBytes(pkt.length);
  c.clear();
  return c;
}

Deno.test("supervisor end to end with echo shards", async (t) => {
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
  const bc = new BroadcastChannel("echo-events");
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
  try {
    const addr = sup.addresses.get("tcp:default");
    ok(addr, `addresses: ${[...sup.addresses.keys()]}`);
    const port = addr.port;
    ok(port > 0);
    ok(logs.includes(`info Listener tcp:default listening on 127.0.0.1:${port}`), logs.join("\n"));

    await t.step("CONNECT split over two writes is forwarded whole, then bytes pass", async () => {
      const c = await Client.open(port);
      const pkt = connectPacket("abc");
      await c.send(pkt.subarray(0, 5));
      await delay(50);
      await c.send(pkt.subarray(5));
      await c.waitBytes(pkt.length);
      deepStrictEqual(c.bytes(), pkt);
      await c.send("hello");
      await c.waitBytes(pkt.length + 5);
      strictEqual(c.text().slice(pkt.length), "hello");
      const open = await waitEvent(/open \d+ tcp:default $/);
      const id = open.split(" ")[2];
      c.close();
      await waitEvent(new RegExp(`closed ${id} closed by peer`));
    });

    await t.step("an empty client id is given an assigned id", async () => {
      const c = await connected(port, "");
      const ev = await waitEvent(/open \d+ tcp:default culex-/);
      match(ev, /culex-[0-9a-f]{16}$/);
      c.close();
    });

    await t.step("an invalid first packet closes only that socket, logged once", async () => {
      const good = await connected(port, "good");
      const before = logs.filter((l) => l.startsWith("warning Closing 127.0.0.1:")).length;
      const c = await Client.open(port);
      await c.send(Uint8Array.from([0x30, 2, 0, 0]));
      await c.waitClosed();
      strictEqual(c.length, 0);
      const closing = () => logs.filter((l) => l.startsWith("warning Closing 127.0.0.1:")).length;
      await until(() => closing() > before, () => logs.join("\n"));
      await delay(50);
      strictEqual(closing() - before, 1, logs.join("\n"));
      await good.send("still");
      await good.waitBytes(5);
      strictEqual(good.text(), "still");
      good.close();
    });

    await t.step("an oversized first packet closes the socket", async () => {
      const c = await Client.open(port);
      // Remaining length 100000 > max_packet_size 4KB.
      await c.send(Uint8Array.from([0x10, 0xa0, 0x8d, 0x06, 0, 4, 77, 81, 84, 84]));
      await c.waitClosed();
      strictEqual(c.length, 0);
    });

    await t.step("no CONNECT within idle_timeout closes the socket", async () => {
      const t0 = Date.now();
      const c = await Client.open(port);
      await c.waitClosed();
      ok(Date.now() - t0 >= 390, `closed after ${Date.now() - t0} ms`);
      ok(logs.some((l) => l.includes("no CONNECT within 400 ms")), logs.join("\n"));
    });

    await t.step("ConnClose writes pending bytes, then closes", async () => {
      const c = await connected(port, "c-l-o-s-e-r");
      await c.send("please close");
      await c.waitClosed();
      strictEqual(c.text(), "please close");
    });

    await t.step("a large reply arrives whole through ring overflow", async () => {
      const c = await connected(port, "b-i-g");
      await c.send("big");
      await c.waitBytes(BIG + 3, 30_000);
      const got = c.bytes();
      strictEqual(got.length, BIG + 3);
      ok(got.subarray(0, BIG).every((b) => b === 0x61));
      strictEqual(dec.decode(got.subarray(BIG)), "big");
      c.close();
    });

    await t.step("a socket that does not read makes its connection congested", async () => {
      const c = await connected(port, "sloth");
      c.paused = true;
      await c.send("big");
      const on = await waitEvent(/congested \d+ 1/, 10_000);
      const id = on.split(" ")[2];
      c.resumeReading();
      await waitEvent(new RegExp(`congested ${id} 0`), 10_000);
      await c.waitBytes(BIG + 3, 30_000);
      c.close();
    });

    await t.step("InputPause stops reading the shard's sockets until it is lifted", async () => {
      const a = await connected(port, "aa");
      const shard = shardOf("aa", 2);
      let other = "x0";
      for (let i = 1; shardOf(other, 2) !== shard; i++) other = `x${i}`;
      const b = await connected(port, other);
      const elsewhere = "y" + [...Array(50).keys()].find((i) => shardOf(`y${i}`, 2) !== shard);
      const c = await connected(port, elsewhere);
      await a.send("pause");
      // InputPause precedes the echo in the ring: once the echo is here, the pause holds.
      await a.waitBytes(5);
      await b.send("ping");
      await c.send("pong");
      await c.waitBytes(4); // the other shard is not paused
      await delay(200);
      strictEqual(b.length, 0, "a paused shard's socket was read");
      bc.postMessage({ cmd: "resume", index: shard });
      await b.waitBytes(4);
      strictEqual(b.text(), "ping");
      a.close();
      b.close();
      c.close();
    });

    await t.step("a full ring to a slow shard pauses its sockets and loses nothing", async () => {
      const c = await connected(port, "s-l-o-w");
      await c.send("stall");
      await c.waitBytes(5);
      const blob = Uint8Array.from(
        { length: 2_000_000 },
        (_, i) => ((i * 7 + (i >> 11)) & 0x7f) | 0x80,
      );
      await c.send("stall");
      await c.send(blob);
      await c.waitBytes(10 + blob.length, 30_000);
      const got = c.bytes();
      strictEqual(got.length, 10 + blob.length);
      strictEqual(dec.decode(got.subarray(0, 10)), "stallstall");
      ok(got.subarray(10).every((v, i) => v === blob[i]), "echoed bytes differ");
      c.close();
    });

    await t.step("max_connections refuses a seventh socket", async () => {
      await until(() => sup.connectionCount === 0, () => `${sup.connectionCount} still open`);
      const cs: Client[] = [];
      for (let i = 0; i < 6; i++) cs.push(await connected(port, `m${i}`));
      strictEqual(sup.connectionCount, 6);
      const extra = await Client.open(port);
      await extra.waitClosed();
      strictEqual(extra.length, 0);
      for (const c of cs) c.close();
      await until(() => sup.connectionCount === 0, () => `${sup.connectionCount} still open`);
    });

    await t.step("a crashed shard is restarted and its connections closed", async () => {
      const c = await connected(port, "victim");
      await c.send("crash");
      await c.waitClosed(10_000);
      await until(() => logs.some((l) => l.includes("restarted")), () => logs.join("\n"), 10_000);
      ok(logs.some((l) => l.includes("crashed")), logs.join("\n"));
      const d = await connected(port, "victim");
      await d.send("again");
      await d.waitBytes(5);
      strictEqual(d.text(), "again");
      d.close();
    });

    await t.step("stop closes open sockets and the listener", async () => {
      const c = await connected(port, "stayer");
      await sup.stop();
      await c.waitClosed();
      let refused = false;
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      } catch {
        refused = true;
      }
      ok(refused, "still accepting after stop");
    });
  } finally {
    for (const c of Client.all) {
      c.resumeReading();
      c.close();
    }
    await Promise.all([...Client.all].map((c) => c.done));
    await sup.stop();
    bc.close();
    await reset();
  }
});
