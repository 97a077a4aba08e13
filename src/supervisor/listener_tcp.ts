/**
 * SocketPort over a `node:net` stream socket: a plain TCP socket, or the TLSSocket of an ssl
 * listener (the same Duplex API). `node:net` allocates nothing for an idle socket (a pending
 * Deno.Conn read holds its buffer), which keeps idle clients cheap. Owns the socket's event
 * wiring; it parses nothing and never touches rings. Listeners live in listener_net.ts.
 */

import type { Socket } from "node:net";
import type { Admission, SocketHandlers, SocketPort, TransportInfo } from "./listener.ts";

/** The admission slot an accepted socket holds until it closes (listener_net.ts sets it). */
export const ADMISSION = Symbol("culex.admission");
type AdmittedSocket = Socket & { [ADMISSION]?: Admission | undefined };

/**
 * Releases the admission slot of a socket (once; later calls do nothing). Called with the socket
 * as `this`: one shared function, no closure per socket.
 */
export function releaseSlot(this: Socket): void {
  const s = this as AdmittedSocket;
  s[ADMISSION]?.released();
  s[ADMISSION] = undefined;
}

/** "ip:port", or "[v6]:port" for IPv6. */
export function formatPeer(address: string | undefined, port: number | string | undefined): string {
  const host = address ?? "unknown";
  return host.includes(":") ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`;
}

const PORT = Symbol("culex.socketPort");
type TaggedSocket = Socket & { [PORT]?: TcpSocketPort };

/**
 * SocketPort over a node:net Socket. Its socket listeners are static methods shared by every
 * socket (node calls them with the socket as `this`) rather than closures per socket: the
 * connections scenario of the benchmark counts every per-socket object.
 */
export class TcpSocketPort implements SocketPort {
  readonly peer: string;
  readonly transport: TransportInfo | null;
  #socket: TaggedSocket;
  #handlers: SocketHandlers | null = null;
  #reason = "closed";
  #closed = false;

  /**
   * @param peer the client's address (the socket's, or a trusted proxy's report of it)
   * @param transport TLS facts, or null for plain TCP
   */
  constructor(socket: Socket, peer: string, transport: TransportInfo | null) {
    this.#socket = socket;
    this.peer = peer;
    this.transport = transport;
    // node:net caches the peer as an object of three fields; we keep our own string.
    (socket as unknown as { _peername?: unknown })._peername = undefined;
    socket.setNoDelay(true);
    this.#socket[PORT] = this;
    socket.on("error", TcpSocketPort.#onError);
    socket.on("close", TcpSocketPort.#onClose);
  }

  static #onError(this: TaggedSocket, err: Error): void {
    const port = this[PORT];
    if (port) port.#reason = err.message;
  }

  static #onClose(this: TaggedSocket): void {
    const port = this[PORT];
    if (!port) return;
    port.#closed = true;
    // A FIN from the peer (the stream ended) without an error before.
    if (port.#reason === "closed" && this.readableEnded) port.#reason = "closed by peer";
    releaseSlot.call(this);
    port.#handlers?.socketClosed(port.#reason);
  }

  static #onData(this: TaggedSocket, chunk: Uint8Array): void {
    const port = this[PORT];
    if (port) port.#handlers?.socketData(chunk);
  }

  static #onDrain(this: TaggedSocket): void {
    const port = this[PORT];
    if (port) port.#handlers?.socketDrained();
  }

  get writableLength(): number {
    return this.#socket.writableLength;
  }

  attach(handlers: SocketHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      handlers.socketClosed(this.#reason);
      return;
    }
    // Adding the data listener starts the flow of reads; resume() too, for a socket whose
    // listener paused it while reading a PROXY header.
    this.#socket.on("data", TcpSocketPort.#onData);
    this.#socket.on("drain", TcpSocketPort.#onDrain);
    if (this.#socket.isPaused()) this.#socket.resume();
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
