/**
 * TCP listener on `node:net`: binds, admits or refuses each socket (Admission) and wraps admitted
 * ones in a SocketPort. `node:net` allocates nothing for an idle socket (a pending Deno.Conn read
 * holds its buffer), which keeps idle clients cheap. Owns the server and the raw sockets; it
 * parses nothing and never touches rings.
 */

import { getLogger } from "@logtape/logtape";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { TcpListenerConfig } from "../config/types.ts";
import {
  type AcceptHandler,
  Admission,
  type ListenAddress,
  type Listener,
  type SocketHandlers,
  type SocketPort,
} from "./listener.ts";

const log = getLogger(["culex", "supervisor"]);

function formatPeer(address: string | undefined, port: number | undefined): string {
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
class TcpSocketPort implements SocketPort {
  readonly peer: string;
  #socket: TaggedSocket;
  #admission: Admission;
  #handlers: SocketHandlers | null = null;
  #reason = "closed";
  #closed = false;

  constructor(socket: Socket, admission: Admission) {
    this.#socket = socket;
    this.#admission = admission;
    this.peer = formatPeer(socket.remoteAddress, socket.remotePort);
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
    port.#admission.released();
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
    // Adding the data listener is what starts the flow of reads.
    this.#socket.on("data", TcpSocketPort.#onData);
    this.#socket.on("drain", TcpSocketPort.#onDrain);
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

/** Options of a TcpListener. */
export interface TcpListenerOptions {
  /** Receives every admitted socket. */
  onAccept: AcceptHandler;
}

/**
 * A TCP listener named `tcp:<name>`.
 *
 * @example
 * ```ts ignore
 * const l = new TcpListener("default", config.listeners.tcp.default!, { onAccept: (s) => {} });
 * const { host, port } = await l.start();
 * ```
 */
export class TcpListener implements Listener {
  readonly name: string;
  #config: TcpListenerConfig;
  #onAccept: AcceptHandler;
  #admission: Admission;
  #server: Server | null = null;
  #closed: Promise<void> | null = null;

  /** @param name the key under listeners.tcp in the config. */
  constructor(name: string, config: TcpListenerConfig, options: TcpListenerOptions) {
    this.name = `tcp:${name}`;
    this.#config = config;
    this.#onAccept = options.onAccept;
    this.#admission = new Admission({
      maxConnections: config.maxConnections,
      maxConnRate: config.maxConnRate,
    });
  }

  get connectionCount(): number {
    return this.#admission.open;
  }

  start(): Promise<ListenAddress> {
    if (this.#server) return Promise.reject(new Error(`Listener ${this.name} already started`));
    const server = createServer((socket: Socket) => this.#accept(socket));
    this.#server = server;
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => {
        this.#server = null;
        reject(new Error(`Cannot listen on ${this.#config.bind} (${this.name}): ${err.message}`));
      };
      server.once("error", failed);
      server.listen({
        host: this.#config.host,
        port: this.#config.port,
        backlog: this.#config.backlog,
      }, () => {
        server.off("error", failed);
        server.on("error", (err: Error) => {
          log.error("Listener {name} failed: {error}", { name: this.name, error: err.message });
        });
        const addr = server.address() as AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Stops accepting at once; resolves when the server and all its sockets are closed. */
  stop(): Promise<void> {
    const server = this.#server;
    if (!server) return this.#closed ?? Promise.resolve();
    this.#server = null;
    this.#closed = new Promise((resolve) => server.close(() => resolve()));
    return this.#closed;
  }

  #accept(socket: Socket): void {
    const verdict = this.#admission.admit(Date.now());
    if (verdict !== "ok") {
      log.debug("Listener {name} refused {peer}: {verdict}", {
        name: this.name,
        peer: formatPeer(socket.remoteAddress, socket.remotePort),
        verdict,
      });
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    const port = new TcpSocketPort(socket, this.#admission);
    try {
      this.#onAccept(port, this);
    } catch (err) {
      log.error("Listener {name} accept handler failed: {error}", {
        name: this.name,
        error: String(err),
      });
      socket.destroy();
    }
  }
}
