/**
 * The prelude of one accepted connection, before its first MQTT byte: the PROXY protocol header
 * (proxy_protocol), the TLS handshake (ssl, wss) and the WebSocket upgrade request (ws, wss), in
 * that order, each under its own deadline. Ends by handing a SocketPort (TcpSocketPort or
 * WsSocketPort) to the listener, or by closing the socket with one log line saying why. Private
 * to src/supervisor/. Owns the socket only until it is handed over; parses no MQTT.
 */

import { getLogger } from "@logtape/logtape";
import { isIP, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { PeerCertAs, WebsocketConfig } from "../config/types.ts";
import { type AccessRules, hostOf } from "./_access.ts";
import { type PeerCert, peerCertAs } from "./_peer_cert.ts";
import { parseProxyHeader } from "./_proxy_protocol.ts";
import type { TlsDone, TlsTerminator } from "./_tls.ts";
import { checkUpgrade } from "./_ws_handshake.ts";
import type { SocketPort, TransportInfo } from "./listener.ts";
import { formatPeer, TcpSocketPort } from "./listener_tcp.ts";
import { WsSocketPort } from "./listener_ws.ts";

const log = getLogger(["culex", "supervisor"]);

/** A refused WebSocket upgrade gets this long to receive its HTTP error before the close. */
const REFUSAL_GRACE_MS = 1000;

/** What a listener tells the preludes of its connections. */
export interface PreludeOptions {
  listener: string;
  /** proxy_protocol_timeout in ms, or 0 when the listener has no PROXY protocol. */
  proxyProtocolTimeout: number;
  access: AccessRules;
  tls: TlsTerminator | null;
  websocket: WebsocketConfig | null;
  /** Time the WebSocket upgrade request may take (mqtt.idle_timeout), ms. */
  upgradeTimeout: number;
  /** Largest inbound WebSocket frame payload, bytes. */
  maxFrame: number;
  peerCertAsUsername: PeerCertAs;
  peerCertAsClientid: PeerCertAs;
  handOver(port: SocketPort): void;
}

type Stage = "proxy" | "tls" | "upgrade" | "done";

/** The raw socket under a TLSSocket: its errors surface as the TLSSocket's close. */
function ignoreError(): void {}

/** See the file header. */
export class Prelude implements TlsDone {
  #raw: Socket;
  /** The socket MQTT will flow on: the raw one, or the TLSSocket over it. */
  #sock: Socket;
  #peer: string;
  #opts: PreludeOptions;
  #stage: Stage = "proxy";
  #buf = new Uint8Array(0);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cert: PeerCert | null = null;
  #onData = (chunk: Uint8Array) => this.#data(chunk);
  #onError = (err: Error) => this.#gone(err.message);
  #onClose = () => this.#gone("closed by peer");

  constructor(raw: Socket, peer: string, opts: PreludeOptions) {
    this.#raw = raw;
    this.#sock = raw;
    this.#peer = peer;
    this.#opts = opts;
  }

  start(): void {
    this.#listen(this.#raw);
    if (this.#opts.proxyProtocolTimeout > 0) {
      this.#deadline(this.#opts.proxyProtocolTimeout, "no PROXY protocol header");
    } else {
      this.#afterProxy();
    }
  }

  /** TlsDone: the handshake succeeded. */
  tlsReady(socket: TLSSocket, cert: PeerCert | null): void {
    if (this.#stage !== "tls") {
      socket.destroy();
      return;
    }
    this.#cert = cert;
    this.#sock = socket;
    this.#afterTls();
  }

  /** TlsDone: the handshake failed (the terminator closed the socket). */
  tlsFailed(reason: string): void {
    if (this.#stage === "tls") this.#refuse(reason);
  }

  #listen(s: Socket): void {
    s.on("data", this.#onData);
    s.on("error", this.#onError);
    s.on("close", this.#onClose);
  }

  #unlisten(s: Socket): void {
    s.off("data", this.#onData);
    s.off("error", this.#onError);
    s.off("close", this.#onClose);
  }

  #deadline(ms: number, what: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#refuse(`${what} within ${ms} ms`), ms);
  }

  #data(chunk: Uint8Array): void {
    // After a refusal the socket may still deliver bytes until it is gone: drop them.
    if (this.#stage === "done") return;
    const all = new Uint8Array(this.#buf.length + chunk.length);
    all.set(this.#buf);
    all.set(chunk, this.#buf.length);
    this.#buf = all;
    if (this.#stage === "proxy") this.#readProxy();
    else if (this.#stage === "upgrade") this.#readUpgrade();
  }

  #readProxy(): void {
    const r = parseProxyHeader(this.#buf);
    if (r.kind === "need-more") return;
    if (r.kind === "invalid") return this.#refuse(r.reason);
    this.#buf = this.#buf.subarray(r.consumed);
    // A load balancer that terminated TLS vouches for the client certificate's CN (EMQX's
    // pp2_ssl_cn: it serves as both CN and subject; the certificate itself is not passed).
    if (r.sslCn) this.#cert = { der: null, commonName: r.sslCn, subject: r.sslCn };
    if (r.source !== null) {
      this.#peer = r.source;
      const rule = this.#opts.access.match(hostOf(r.source));
      if (rule && !rule.allow) return this.#refuse(`access_rules: "${rule.text}"`);
    }
    this.#afterProxy();
  }

  #afterProxy(): void {
    const tls = this.#opts.tls;
    if (!tls) return this.#afterTls();
    this.#stage = "tls";
    clearTimeout(this.#timer); // the terminator keeps handshake_timeout
    this.#unlisten(this.#raw);
    // Bytes read behind the PROXY header belong to the ClientHello.
    this.#raw.pause();
    if (this.#buf.length > 0) this.#raw.unshift(this.#buf);
    this.#buf = new Uint8Array(0);
    // While TLS runs, a raw close is still ours to log; a raw error must never go unheard (an
    // "error" without a listener would throw in the supervisor), then or after the handover.
    this.#raw.on("close", this.#onClose);
    this.#raw.on("error", ignoreError);
    tls.handshake(this.#raw, this);
  }

  #afterTls(): void {
    if (this.#sock !== this.#raw) {
      this.#raw.off("close", this.#onClose);
      this.#listen(this.#sock);
    }
    if (this.#opts.websocket) {
      this.#stage = "upgrade";
      this.#deadline(this.#opts.upgradeTimeout, "no WebSocket upgrade request");
      if (this.#buf.length > 0) this.#readUpgrade();
      return;
    }
    this.#finish(new TcpSocketPort(this.#sock, this.#peer, this.#transport("")), this.#buf);
  }

  #readUpgrade(): void {
    const ws = this.#opts.websocket!;
    const u = checkUpgrade(this.#buf, ws);
    if (u.kind === "need-more") return;
    if (u.kind === "refused") {
      this.#sock.end(u.response);
      return this.#refuse(`WebSocket upgrade refused (${u.status}): ${u.reason}`, true);
    }
    if (u.forwardedFor && isIP(u.forwardedFor)) {
      const port = u.forwardedPort && /^\d{1,5}$/.test(u.forwardedPort)
        ? u.forwardedPort
        : this.#peer.slice(this.#peer.lastIndexOf(":") + 1);
      this.#peer = formatPeer(u.forwardedFor, port);
    }
    this.#sock.write(u.response);
    const port = new WsSocketPort(this.#sock, {
      peer: this.#peer,
      transport: this.#transport(u.cookie),
      early: this.#buf.subarray(u.consumed),
      maxFrame: this.#opts.maxFrame,
    });
    this.#finish(port, new Uint8Array(0));
  }

  /** TLS facts and the cookie, or null when there are none (plain ws without a cookie). */
  #transport(cookie: string): TransportInfo | null {
    const cert = this.#cert;
    if (!this.#opts.tls && cert === null && cookie === "") return null;
    return {
      certCommonName: cert?.commonName ?? "",
      certSubject: cert?.subject ?? "",
      usernameOverride: peerCertAs(this.#opts.peerCertAsUsername, cert),
      clientIdOverride: peerCertAs(this.#opts.peerCertAsClientid, cert),
      cookie,
    };
  }

  #finish(port: SocketPort, rest: Uint8Array): void {
    this.#stage = "done";
    clearTimeout(this.#timer);
    this.#unlisten(this.#sock);
    this.#sock.pause();
    // MQTT bytes read with the prelude go back into the stream, ahead of the next read.
    if (rest.length > 0) this.#sock.unshift(rest);
    this.#opts.handOver(port);
  }

  #gone(reason: string): void {
    if (this.#stage === "done") return;
    this.#stage = "done";
    clearTimeout(this.#timer);
    log.debug("Connection {peer} on {listener} ended before MQTT: {reason}", {
      peer: this.#peer,
      listener: this.#opts.listener,
      reason,
    });
  }

  /** Logs once and closes; `graceful` lets an HTTP error response go out first. */
  #refuse(reason: string, graceful = false): void {
    if (this.#stage === "done") return;
    this.#stage = "done";
    clearTimeout(this.#timer);
    log.warning("Closing {peer} on {listener}: {reason}", {
      peer: this.#peer,
      listener: this.#opts.listener,
      reason,
    });
    const s = this.#sock;
    if (!graceful) {
      s.destroy();
      this.#raw.destroy();
      return;
    }
    const t = setTimeout(() => s.destroy(), REFUSAL_GRACE_MS);
    s.once("close", () => clearTimeout(t));
  }
}
