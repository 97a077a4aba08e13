/**
 * Load generator connection: one raw MQTT client over `node:net` to 127.0.0.1 (runs the same
 * under Deno and Node). Sends CONNECT, waits for CONNACK, optionally SUBSCRIBE/SUBACK, then hands
 * every framed packet to the mode's handler and calls onChunkEnd once per received chunk so the
 * mode can flush batched acks. Owns its socket and scanner; knows nothing about scenarios.
 */

import type { Socket } from "node:net";
import {
  clientFrameHeader,
  connectEvent,
  openSocket,
  type Transport,
  upgradeRequest,
  WsReader,
} from "./lg_transport.ts";
import { connectPacket, type PacketHandler, Scanner, subscribePacket, T } from "./wire.ts";

/** Bound on CONNECT→CONNACK and SUBSCRIBE→SUBACK. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** The only address the load generator ever talks to. */
export const HOST = "127.0.0.1";

let transport: Transport = { kind: "tcp" };

/** Sets how every later Conn.open() reaches the broker (TCP by default). */
export function useTransport(t: Transport): void {
  transport = t;
}

interface Waiter {
  type: number;
  resolve: (firstBodyByte: number) => void;
  reject: (err: Error) => void;
}

/** A connected MQTT client; see the file header. */
export class Conn {
  readonly sock: Socket;
  /** Called for every packet that is not an awaited CONNACK/SUBACK. */
  onPacket: PacketHandler = () => {};
  /** Called after each received chunk has been scanned. */
  onChunkEnd: () => void = () => {};
  /** Set once the socket closed; error holds why when it was not our doing. */
  closed = false;
  error: string | null = null;
  #waiter: Waiter | null = null;
  #ending = false;
  /** WebSocket: frames writes; null for TCP and TLS. */
  #ws: WsReader | null;

  private constructor(sock: Socket, ws: boolean) {
    this.sock = sock;
    const scanner = new Scanner((buf, first, body, end) => {
      const w = this.#waiter;
      if (w && first >> 4 === w.type) {
        this.#waiter = null;
        // CONNACK: return code is the second body byte; SUBACK: granted QoS is the third.
        w.resolve(buf[w.type === T.CONNACK ? body + 1 : body + 2] ?? 0x80);
        return;
      }
      this.onPacket(buf, first, body, end);
    });
    this.#ws = ws ? new WsReader((b) => scanner.push(b)) : null;
    sock.on("data", (chunk: Uint8Array) => {
      if (this.#ws) {
        try {
          if (!this.#ws.push(chunk)) return;
          if (this.onUpgraded) {
            const go = this.onUpgraded;
            this.onUpgraded = null;
            go();
          }
        } catch (err) {
          this.error ??= (err as Error).message;
          sock.destroy();
          return;
        }
      } else scanner.push(chunk);
      this.onChunkEnd();
    });
    sock.on("error", (err: Error) => {
      this.error ??= err.message;
    });
    sock.on("close", () => {
      this.closed = true;
      if (!this.#ending) this.error ??= "closed by broker";
      this.#waiter?.reject(new Error(this.error ?? "closed"));
      this.#waiter = null;
    });
  }

  /** WebSocket: runs once the upgrade was accepted. */
  onUpgraded: (() => void) | null = null;

  /**
   * Opens a connection to HOST:port over the transport set by useTransport() and completes
   * CONNECT/CONNACK (return code 0).
   */
  static open(port: number, clientId: string, keepalive = 0, clean = true): Promise<Conn> {
    const t = transport;
    const sock = openSocket(t, HOST, port);
    sock.setNoDelay(true);
    const conn = new Conn(sock, t.kind === "ws");
    const acked = conn.#await(T.CONNACK, `CONNACK for ${clientId}`);
    sock.on(connectEvent(t), () => {
      if (t.kind !== "ws") {
        conn.write(connectPacket(clientId, keepalive, clean));
        return;
      }
      conn.onUpgraded = () => conn.write(connectPacket(clientId, keepalive, clean));
      sock.write(upgradeRequest(HOST, port));
    });
    return acked.then((rc) => {
      if (rc !== 0) {
        conn.destroy();
        throw new Error(`CONNACK return code ${rc} for ${clientId}`);
      }
      return conn;
    }, (err: Error) => {
      conn.destroy();
      throw err;
    });
  }

  /** SUBSCRIBE to one filter and wait for a SUBACK that grants it. */
  async subscribe(filter: string, qos: number): Promise<void> {
    const acked = this.#await(T.SUBACK, `SUBACK for ${filter}`);
    this.write(subscribePacket(filter, qos));
    const granted = await acked;
    if (granted >= 0x80) throw new Error(`SUBSCRIBE ${filter} refused (${granted})`);
  }

  /** Writes bytes (one WebSocket frame on ws); false when the socket's buffer is full. */
  write(bytes: Uint8Array): boolean {
    if (this.#ws) this.sock.write(clientFrameHeader(bytes.length));
    return this.sock.write(bytes);
  }

  /** Bytes queued in the socket and not yet handed to the kernel. */
  get backlog(): number {
    return this.sock.writableLength;
  }

  /**
   * Closes without DISCONNECT, by RST where the runtime can (Node's resetAndDestroy): the bench's
   * clients all go away at once, and a FIN would leave thousands of loopback ports in TIME_WAIT,
   * slowing the next run's connects.
   */
  destroy(): void {
    this.#ending = true;
    const s: { resetAndDestroy?: unknown } = this.sock;
    // Node's TLS sockets have no RST (ERR_INVALID_HANDLE_TYPE): those end by destroy().
    try {
      if (typeof s.resetAndDestroy === "function" && !this.closed) this.sock.resetAndDestroy();
      else this.sock.destroy();
    } catch {
      this.sock.destroy();
    }
  }

  #await(type: number, what: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new Error(`timed out waiting for ${what}`));
      }, HANDSHAKE_TIMEOUT_MS);
      this.#waiter = {
        type,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }
}

/** Opens n clients with at most `concurrency` handshakes at a time; ids from idOf(i). */
export async function openMany(
  port: number,
  n: number,
  concurrency: number,
  idOf: (i: number) => string,
  keepalive = 0,
  clean = true,
): Promise<{ conns: Conn[]; errors: number; firstError: string | null }> {
  const conns: Conn[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        conns.push(await Conn.open(port, idOf(i), keepalive, clean));
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { conns, errors, firstError };
}

/** Errors of connections that closed or failed while they should have stayed open. */
export function connErrors(conns: readonly Conn[]): { count: number; first: string | null } {
  let count = 0;
  let first: string | null = null;
  for (const c of conns) {
    if (c.error !== null) {
      count++;
      first ??= c.error;
    }
  }
  return { count, first };
}
