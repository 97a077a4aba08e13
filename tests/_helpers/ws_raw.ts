/**
 * Test helper: a raw WebSocket client written from RFC 6455 for the WebSocket listener tests.
 * Sends the upgrade request with chosen headers, then frames of any opcode, FIN bit, mask (or
 * none) and split, and reads the server's frames and the MQTT packets inside its binary frames.
 * Shares nothing with the broker's framing code. Owns one Deno.TcpConn; every read is bounded.
 */

import { type RawPacket, readVarInt } from "./packets.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One frame as the server sent it. */
export interface WsFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Options of an upgrade request. */
export interface UpgradeOptions {
  path?: string;
  /** Sec-WebSocket-Protocol value; null = no header. Default "mqtt". */
  protocol?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Bytes sent before the request (a PROXY protocol header). */
  prefix?: Uint8Array;
}

/** Builds a client frame: masked unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Uint8Array,
  o: { fin?: boolean; mask?: boolean } = {},
): Uint8Array {
  const fin = o.fin ?? true;
  const mask = o.mask ?? true;
  const n = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {head.push(
      m | 127,
      0,
      0,
      0,
      0,
      (n >>> 24) & 0xff,
      (n >>> 16) & 0xff,
      (n >>> 8) & 0xff,
      n & 0xff,
    );}
  const key = mask ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
  const out = new Uint8Array(head.length + key.length + n);
  out.set(head);
  out.set(key, head.length);
  for (let i = 0; i < n; i++) {
    out[head.length + key.length + i] = payload[i]! ^ (mask ? key[i & 3]! : 0);
  }
  return out;
}

/** A raw WebSocket connection; see the file header. */
export class WsRaw {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(0);
  #closed = false;
  /** The HTTP response head to the upgrade request. */
  status = 0;
  responseHead = "";
  /** MQTT bytes from binary frames not yet taken as packets. */
  #mqtt = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects and sends the upgrade request; resolves once the response head arrived. */
  static async open(port: number, o: UpgradeOptions = {}): Promise<WsRaw> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const ws = new WsRaw(conn);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const lines = [
      `GET ${o.path ?? "/mqtt"} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
    ];
    const protocol = o.protocol === undefined ? "mqtt" : o.protocol;
    if (protocol !== null) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`${k}: ${v}`);
    if (o.prefix) await ws.write(o.prefix);
    await ws.write(enc.encode(lines.join("\r\n") + "\r\n\r\n"));
    const deadline = Date.now() + (o.timeoutMs ?? 5000);
    for (;;) {
      const text = dec.decode(ws.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        ws.responseHead = text.slice(0, end);
        ws.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(ws.responseHead)?.[1] ?? 0);
        ws.#buf = ws.#buf.subarray(enc.encode(text.slice(0, end + 4)).length);
        return ws;
      }
      if (!(await ws.#fill(deadline))) {
        throw new Error(`No upgrade response (got ${JSON.stringify(text)})`);
      }
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Sends MQTT bytes in one masked binary frame. */
  async sendBinary(bytes: Uint8Array): Promise<void> {
    await this.write(frame(0x2, bytes));
  }

  /** The next frame from the server, or null when the connection closed first. */
  async readFrame(timeoutMs = 5000): Promise<WsFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#takeFrame();
      if (f) return f;
      if (!(await this.#fill(deadline))) return null;
    }
  }

  /** The next MQTT packet carried by binary frames (control frames are skipped, pings answered). */
  async readPacket(timeoutMs = 5000): Promise<RawPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.#takePacket();
      if (p) return p;
      const f = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (!f) throw new Error("Connection closed (or timed out) before an MQTT packet");
      if (f.opcode === 0x2 || f.opcode === 0x0) {
        const all = new Uint8Array(this.#mqtt.length + f.payload.length);
        all.set(this.#mqtt);
        all.set(f.payload, this.#mqtt.length);
        this.#mqtt = all;
      } else if (f.opcode === 0x8) throw new Error("Server closed the WebSocket");
    }
  }

  /** Resolves true once the server closed the TCP connection (within timeoutMs). */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (await this.#fill(deadline)) this.#buf = new Uint8Array(0);
    return this.#closed;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }

  #takePacket(): RawPacket | null {
    const b = this.#mqtt;
    if (b.length < 2) return null;
    const { value, size } = readVarInt(b, 1);
    if (size < 0 || b.length < 1 + size + value) return null;
    const bytes = b.slice(0, 1 + size + value);
    this.#mqtt = b.subarray(bytes.length);
    return { type: bytes[0]! >> 4, flags: bytes[0]! & 0x0f, body: bytes.subarray(1 + size), bytes };
  }

  #takeFrame(): WsFrame | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2]! << 8) | b[3]!;
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = (b[6]! << 24 | b[7]! << 16 | b[8]! << 8 | b[9]!) >>> 0;
      at = 10;
    }
    if (masked) at += 4;
    if (b.length < at + len) return null;
    const f = {
      fin: (b[0]! & 0x80) !== 0,
      opcode: b[0]! & 0x0f,
      masked,
      payload: b.slice(at, at + len),
    };
    this.#buf = b.subarray(at + len);
    return f;
  }

  /** Reads once more into the buffer; false when closed or past the deadline. */
  async #fill(deadline: number): Promise<boolean> {
    if (this.#closed) return false;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      this.#conn.read(chunk).catch(() => null),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (n === "timeout") return false;
    if (n === null) {
      this.#closed = true;
      return false;
    }
    const all = new Uint8Array(this.#buf.length + n);
    all.set(this.#buf);
    all.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = all;
    return true;
  }
}
