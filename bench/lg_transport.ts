/**
 * Load generator transports besides plain TCP: TLS (node:tls, server checked against the
 * bench's CA) and MQTT over WebSocket (RFC 6455 client framing over node:net). Runs the same
 * under Deno and Node. Owns no socket: lg_conn.ts asks it for one and for the framing of writes
 * and reads. Frames are masked with the all-zero key (a valid key that makes masking free here;
 * the broker still unmasks every byte).
 */

import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** How the load generator reaches the broker. */
export interface Transport {
  kind: "tcp" | "tls" | "ws";
  /** TLS: PEM of the CA that signed the broker's certificate. */
  ca?: string;
}

/** Opens a socket to host:port; `ready` runs once bytes may be sent (after TLS/upgrade). */
export function openSocket(t: Transport, host: string, port: number): Socket {
  if (t.kind === "tls") {
    return tlsConnect({ host, port, ca: t.ca ?? "", servername: "localhost" });
  }
  return netConnect({ host, port });
}

/** The event that says a socket from openSocket() is connected. */
export function connectEvent(t: Transport): string {
  return t.kind === "tls" ? "secureConnect" : "connect";
}

/** The upgrade request of a WebSocket connection (subprotocol mqtt). */
export function upgradeRequest(host: string, port: number): Uint8Array {
  return new TextEncoder().encode(
    `GET /mqtt HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
  );
}

/** Header of a masked (zero key) binary frame of `n` payload bytes. */
export function clientFrameHeader(n: number): Uint8Array {
  if (n < 126) return Uint8Array.of(0x82, 0x80 | n, 0, 0, 0, 0);
  if (n < 65536) return Uint8Array.of(0x82, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0);
  return Uint8Array.of(
    0x82,
    0x80 | 127,
    0,
    0,
    0,
    0,
    (n >>> 24) & 0xff,
    (n >>> 16) & 0xff,
    (n >>> 8) & 0xff,
    n & 0xff,
    0,
    0,
    0,
    0,
  );
}

/**
 * Reads a WebSocket connection's server side: first the HTTP response head (must be 101), then
 * unmasked frames whose payloads go to `onData`. Control frames are dropped (the broker pings
 * no one).
 */
export class WsReader {
  #onData: (bytes: Uint8Array) => void;
  #head: Uint8Array | null = new Uint8Array(0);
  #carry: Uint8Array | null = null;
  /** Payload bytes of the current frame still to come, and whether it carries data. */
  #remaining = 0;
  #data = true;

  constructor(onData: (bytes: Uint8Array) => void) {
    this.#onData = onData;
  }

  /** Feeds bytes; throws when the upgrade is refused. Returns true once upgraded. */
  push(chunk: Uint8Array): boolean {
    let buf = chunk;
    if (this.#head) {
      const all = new Uint8Array(this.#head.length + chunk.length);
      all.set(this.#head);
      all.set(chunk, this.#head.length);
      const text = new TextDecoder("latin1").decode(all);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        this.#head = all;
        return false;
      }
      if (!text.startsWith("HTTP/1.1 101")) {
        throw new Error(`upgrade refused: ${text.slice(0, 40)}`);
      }
      this.#head = null;
      buf = all.subarray(end + 4);
    }
    this.#frames(buf);
    return true;
  }

  #frames(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#carry) {
      buf = new Uint8Array(this.#carry.length + chunk.length);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.length);
      this.#carry = null;
    }
    let at = 0;
    while (at < buf.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, buf.length - at);
        if (this.#data) this.#onData(buf.subarray(at, at + n));
        this.#remaining -= n;
        at += n;
        continue;
      }
      if (buf.length - at < 2) break;
      const op = buf[at]! & 0x0f;
      let len = buf[at + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = (buf[at + 2]! << 8) | buf[at + 3]!;
        head = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = (buf[at + 6]! << 24 | buf[at + 7]! << 16 | buf[at + 8]! << 8 | buf[at + 9]!) >>> 0;
        head = 10;
      }
      at += head;
      this.#remaining = len;
      this.#data = op === 0x2 || op === 0x0;
    }
    if (at < buf.length) this.#carry = buf.slice(at);
  }
}
