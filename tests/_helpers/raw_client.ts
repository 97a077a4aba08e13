/**
 * Test helper: a raw MQTT-over-TCP client that sends exact bytes and reads exact bytes, packets or
 * the connection's close, in the manner of Mosquitto's `test/broker` scripts.
 *
 * Owns one Deno.Conn and its read buffer; every read is bounded by a timeout. The packet builders
 * (packets.ts) and parsers (packet_parse.ts) are re-exported here.
 */

import {
  concat,
  type ConnectFields,
  connectPacket,
  hex,
  type RawPacket,
  readVarInt,
} from "./packets.ts";
import { type Connack, parseConnack } from "./packet_parse.ts";

export * from "./packets.ts";
export * from "./packet_parse.ts";

const DEFAULT_TIMEOUT_MS = 5_000;

/** What a bounded read ended with. */
type ReadResult = { kind: "data"; bytes: Uint8Array } | { kind: "closed"; error?: string };

/** One raw TCP connection to the broker. */
export class RawClient {
  #conn: Deno.TcpConn;
  #buf: Uint8Array = new Uint8Array(0);
  #pending: Promise<ReadResult> | null = null;
  #closedByPeer = false;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Opens a TCP connection to 127.0.0.1:port (bounded by timeoutMs). */
  static async connect(port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawClient> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const conn = await Promise.race([
      Deno.connect({ hostname: "127.0.0.1", port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`TCP connect timed out (${port})`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return new RawClient(conn);
  }

  /** "127.0.0.1:<local port>", the peer address the broker sees for this connection. */
  get peer(): string {
    const a = this.#conn.localAddr as Deno.NetAddr;
    return `${a.hostname}:${a.port}`;
  }

  /** True once the broker closed the connection. */
  get closedByPeer(): boolean {
    return this.#closedByPeer;
  }

  /** Writes all bytes. Returns false if the connection is already closed (write failed). */
  async send(bytes: Uint8Array | readonly number[]): Promise<boolean> {
    let data = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    try {
      while (data.length > 0) {
        const n = await this.#conn.write(data);
        data = data.subarray(n);
      }
      return true;
    } catch {
      return false;
    }
  }

  #read(): Promise<ReadResult> {
    if (!this.#pending) {
      const buf = new Uint8Array(16 * 1024);
      this.#pending = this.#conn.read(buf).then(
        (n): ReadResult =>
          n === null ? { kind: "closed" } : { kind: "data", bytes: buf.slice(0, n) },
        (e): ReadResult => ({ kind: "closed", error: String(e) }),
      );
    }
    return this.#pending;
  }

  /** Reads until at least n bytes are buffered; false on close or timeout. */
  async #fill(n: number, deadline: number): Promise<"ok" | "closed" | "timeout"> {
    while (this.#buf.length < n) {
      if (this.#closedByPeer) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        this.#read(),
        new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (r === "timeout") return "timeout";
      this.#pending = null;
      if (r.kind === "closed") {
        this.#closedByPeer = true;
        return "closed";
      }
      this.#buf = concat([this.#buf, r.bytes]);
    }
    return "ok";
  }

  /**
   * Reads the next whole packet. Resolves null if the broker closed the connection first;
   * rejects on timeout.
   */
  async readPacket(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawPacket | null> {
    const deadline = Date.now() + timeoutMs;
    // Fixed header: 1 type byte + 1..4 remaining-length bytes.
    let headerLen = 2;
    for (;;) {
      const r = await this.#fill(headerLen, deadline);
      if (r === "closed") return null;
      if (r === "timeout") {
        throw new Error(`No packet within ${timeoutMs} ms (buffered: ${hex(this.#buf)})`);
      }
      const last = this.#buf[headerLen - 1] ?? 0;
      if ((last & 0x80) === 0 || headerLen === 5) break;
      headerLen++;
    }
    const { value: remaining } = readVarInt(this.#buf, 1);
    const total = headerLen + remaining;
    const r = await this.#fill(total, deadline);
    if (r === "closed") return null;
    if (r === "timeout") {
      throw new Error(`Partial packet after ${timeoutMs} ms: ${hex(this.#buf.subarray(0, 32))}`);
    }
    const bytes = this.#buf.slice(0, total);
    this.#buf = this.#buf.slice(total);
    const first = bytes[0] ?? 0;
    return { type: first >> 4, flags: first & 0x0f, body: bytes.subarray(headerLen), bytes };
  }

  /** Reads the next packet and fails unless one arrives. */
  async expectPacket(what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawPacket> {
    const p = await this.readPacket(timeoutMs);
    if (!p) throw new Error(`Expected ${what}, but the broker closed the connection`);
    return p;
  }

  /** Reads exactly expected.length bytes and fails unless they equal expected. */
  async expectBytes(
    what: string,
    expected: Uint8Array | readonly number[],
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<void> {
    const want = expected instanceof Uint8Array ? expected : Uint8Array.from(expected);
    const r = await this.#fill(want.length, Date.now() + timeoutMs);
    const got = this.#buf.slice(0, want.length);
    if (r !== "ok" || hex(got) !== hex(want)) {
      const why = r === "ok" ? "" : ` (${r})`;
      throw new Error(`Expected ${what}: ${hex(want)}, got: ${hex(this.#buf)}${why}`);
    }
    this.#buf = this.#buf.slice(want.length);
  }

  /**
   * Waits until the broker closes the connection. Packets that arrive first are returned; each
   * must satisfy `allow` (default: none allowed) or this fails. Fails after timeoutMs.
   */
  async expectClose(
    what: string,
    opts: { timeoutMs?: number; allow?: (p: RawPacket) => boolean } = {},
  ): Promise<RawPacket[]> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const seen: RawPacket[] = [];
    for (let i = 0; i < 1000; i++) {
      const left = deadline - Date.now();
      let p: RawPacket | null;
      try {
        p = await this.readPacket(Math.max(1, left));
      } catch (e) {
        if (this.#buf.length === 0) {
          throw new Error(`Expected close (${what}); still open after ${timeoutMs} ms`);
        }
        throw e;
      }
      if (p === null) return seen;
      if (!(opts.allow?.(p) ?? false)) {
        throw new Error(`Expected close (${what}); got packet ${hex(p.bytes.subarray(0, 32))}`);
      }
      seen.push(p);
    }
    throw new Error(`Expected close (${what}); too many packets`);
  }

  /** Fails if anything arrives (or the connection closes) within ms. */
  async expectSilence(what: string, ms: number): Promise<void> {
    const r = await this.#fill(this.#buf.length + 1, Date.now() + ms);
    if (r !== "timeout") {
      throw new Error(
        `Expected nothing (${what}), got ${r === "closed" ? "close" : hex(this.#buf)}`,
      );
    }
  }

  /** Closes the socket (no DISCONNECT) and settles the pending read. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    if (this.#pending) await this.#pending;
    this.#pending = null;
  }

  /** Connects, sends CONNECT and expects a CONNACK with code 0. */
  static async open(
    port: number,
    fields: ConnectFields,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<{ raw: RawClient; connack: Connack }> {
    const raw = await RawClient.connect(port, timeoutMs);
    try {
      await raw.send(connectPacket(fields));
      const p = await raw.expectPacket("CONNACK", timeoutMs);
      const connack = parseConnack(p, fields.version);
      if (connack.code !== 0) {
        throw new Error(`CONNACK refused ${fields.clientId}: code 0x${connack.code.toString(16)}`);
      }
      return { raw, connack };
    } catch (e) {
      await raw.close();
      throw e;
    }
  }
}
