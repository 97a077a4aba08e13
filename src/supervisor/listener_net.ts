/**
 * NetListener: every listener type (tcp, ssl, ws, wss) on one `node:net` server. Accepts, admits
 * or refuses (max_connections, max_conn_rate, access_rules), then runs the connection's prelude
 * (_prelude.ts: PROXY header, TLS handshake, WebSocket upgrade, as configured) and hands the
 * resulting SocketPort to the supervisor. Owns the server, the raw sockets until handed over, and
 * the listener's TLS state; parses no MQTT and never touches rings.
 */

import { getLogger } from "@logtape/logtape";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Config, ListenerCommonConfig, PeerCertAs } from "../config/types.ts";
import { AccessRules, hostOf } from "./_access.ts";
import { Prelude, type PreludeOptions } from "./_prelude.ts";
import { TlsTerminator } from "./_tls.ts";
import { zoneConfig } from "../config/zones.ts";
import {
  type AcceptHandler,
  Admission,
  type ListenAddress,
  type Listener,
  type SocketPort,
} from "./listener.ts";
import { ADMISSION, formatPeer, releaseSlot, TcpSocketPort } from "./listener_tcp.ts";

const log = getLogger(["culex", "supervisor"]);

/** The four listener types, as in `listeners.<type>.<name>`. */
export type ListenerType = "tcp" | "ssl" | "ws" | "wss";

/** Options of a NetListener. */
export interface NetListenerOptions {
  /** Receives every admitted socket. */
  onAccept: AcceptHandler;
  /** mqtt.idle_timeout (bounds the WebSocket upgrade request), mqtt.max_packet_size (frames). */
  mqtt: Pick<Config["mqtt"], "idleTimeout" | "maxPacketSize"> & {
    peerCertAsUsername: PeerCertAs;
    peerCertAsClientid: PeerCertAs;
  };
}

type AdmittedSocket = Socket & { [ADMISSION]?: Admission | undefined };

/**
 * A listener named `<type>:<name>`.
 *
 * @example
 * ```ts ignore
 * const l = new NetListener("tcp", "default", config.listeners.tcp.default!, { onAccept, mqtt });
 * const { host, port } = await l.start();
 * ```
 */
export class NetListener implements Listener {
  readonly name: string;
  readonly zone: string;
  readonly enableAuthn: boolean | "quick_deny_anonymous";
  #config: ListenerCommonConfig;
  #onAccept: AcceptHandler;
  #admission: Admission;
  #access: AccessRules;
  #tls: TlsTerminator | null = null;
  /** Null for a plain TCP listener without PROXY protocol (no prelude at all). */
  #prelude: PreludeOptions | null;
  #server: Server | null = null;
  #closed: Promise<void> | null = null;

  /**
   * Reads TLS files at once: throws an Error naming the key when one cannot be read.
   * @param name the key under listeners.<type> in the config.
   */
  constructor(
    type: ListenerType,
    name: string,
    config: ListenerCommonConfig,
    options: NetListenerOptions,
  ) {
    this.name = `${type}:${name}`;
    this.zone = config.zone;
    this.enableAuthn = config.enableAuthn;
    this.#config = config;
    this.#onAccept = options.onAccept;
    this.#admission = new Admission({
      maxConnections: config.maxConnections,
      maxConnRate: config.maxConnRate,
    });
    this.#access = new AccessRules(config.accessRules);
    const key = `listeners.${type}.${name}`;
    if ("sslOptions" in config) {
      const ssl = config as { sslOptions: ConstructorParameters<typeof TlsTerminator>[1] };
      this.#tls = new TlsTerminator(`${key}.ssl_options`, ssl.sslOptions);
    }
    const ws = "websocket" in config
      ? (config as { websocket: NonNullable<PreludeOptions["websocket"]> }).websocket
      : null;
    this.#prelude = this.#tls || ws || config.proxyProtocol
      ? {
        listener: this.name,
        proxyProtocolTimeout: config.proxyProtocol ? config.proxyProtocolTimeout : 0,
        access: this.#access,
        tls: this.#tls,
        websocket: ws,
        upgradeTimeout: options.mqtt.idleTimeout,
        maxFrame: ws?.maxFrameSize || options.mqtt.maxPacketSize,
        peerCertAsUsername: options.mqtt.peerCertAsUsername,
        peerCertAsClientid: options.mqtt.peerCertAsClientid,
        handOver: (port) => this.#handOver(port),
      }
      : null;
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

  reload(): void {
    this.#tls?.reload();
  }

  #accept(socket: AdmittedSocket): void {
    const peer = formatPeer(socket.remoteAddress, socket.remotePort);
    const verdict = this.#admission.admit(Date.now());
    if (verdict !== "ok") {
      log.debug("Listener {name} refused {peer}: {verdict}", { name: this.name, peer, verdict });
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    socket[ADMISSION] = this.#admission;
    // A plain TCP socket's port releases the slot on close; any other gets its own listener
    // (a second "close" listener costs an array per socket, which plain TCP avoids).
    if (this.#prelude !== null) socket.on("close", releaseSlot);
    // access_rules on the socket's own address, as EMQX checks them at accept (a PROXY header's
    // address is checked again in the prelude).
    if (!this.#access.allowsAll && !this.#access.allows(hostOf(peer))) {
      log.info("Listener {name} refused {peer}: access_rules", { name: this.name, peer });
      socket.on("error", () => {});
      socket.once("close", releaseSlot);
      socket.destroy();
      return;
    }
    if (this.#prelude === null) {
      this.#handOver(new TcpSocketPort(socket, peer, null));
      return;
    }
    new Prelude(socket, peer, this.#prelude).start();
  }

  #handOver(port: SocketPort): void {
    // A handshake that finished after stop(): the listener no longer admits anyone.
    if (this.#server === null) {
      port.destroy();
      return;
    }
    try {
      this.#onAccept(port, this);
    } catch (err) {
      log.error("Listener {name} accept handler failed: {error}", {
        name: this.name,
        error: String(err),
      });
      port.destroy();
    }
  }
}

/** Kept for callers of the TCP-only listener: a NetListener of type "tcp". */
export class TcpListener extends NetListener {
  constructor(name: string, config: ListenerCommonConfig, options: NetListenerOptions) {
    super("tcp", name, config, options);
  }
}

/**
 * One NetListener per enabled `listeners.<type>.<name>` of `config`, in the order tcp, ssl, ws,
 * wss, each with its zone's mqtt settings. Every TLS file is read here, before any listener opens.
 */
export function createListeners(config: Config, onAccept: AcceptHandler): NetListener[] {
  const out: NetListener[] = [];
  for (const type of LISTENER_TYPES) {
    for (const [name, cfg] of Object.entries(config.listeners[type])) {
      if (cfg.enable) out.push(createListener(config, type, name, onAccept));
    }
  }
  return out;
}

const LISTENER_TYPES = ["tcp", "ssl", "ws", "wss"] as const;

/**
 * The NetListener of `listeners.<type>.<name>` (enabled or not: `ctl listeners start` may start
 * a disabled one). Throws when the configuration has no such listener or a TLS file cannot be
 * read.
 */
export function createListener(
  config: Config,
  type: string,
  name: string,
  onAccept: AcceptHandler,
): NetListener {
  const t = LISTENER_TYPES.find((x) => x === type);
  const cfg = t ? config.listeners[t][name] : undefined;
  if (!t || !cfg) throw new Error(`No listener ${type}:${name} in the configuration`);
  // The listener's zone may override mqtt.peer_cert_as_* (as every mqtt.* key in EMQX).
  const mqtt = zoneConfig(config, cfg.zone).mqtt;
  return new NetListener(t, name, cfg, { onAccept, mqtt });
}
