/**
 * TLS for ssl and wss listeners on `node:tls` (Deno.listenTls cannot ask for client
 * certificates): builds the server side from `ssl_options`, runs one handshake per accepted
 * socket (after any PROXY header), checks the client certificate as EMQX's `verify` /
 * `fail_if_no_peer_cert` say, and swaps the certificates on reload (SIGHUP) for new handshakes
 * only. Private to src/supervisor/. Owns the never-listening tls.Server it feeds sockets into.
 */

import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from "node:tls";
import type { SslOptionsConfig } from "../config/types.ts";
import { type PeerCert, readPeerCert } from "./_peer_cert.ts";

/** The outcome of one handshake. */
export interface TlsDone {
  /** Called once: the secured socket and the client's certificate, or why it failed. */
  tlsReady(socket: TLSSocket, cert: PeerCert | null): void;
  tlsFailed(reason: string): void;
}

// Deno's TLSSocket built by hand (new TLSSocket(raw, { isServer })) accepts any client
// certificate; the one a tls.Server builds for a socket emitted as "connection" verifies it.
// That socket keeps its raw socket as `_parent` (as in Node), which ties the two together.
type ServerTlsSocket = TLSSocket & { _parent?: Socket };

/** See the file header. */
export class TlsTerminator {
  readonly #key: string;
  #options: SslOptionsConfig;
  #server: Server;
  #pending = new WeakMap<Socket, TlsDone>();

  /**
   * Reads the certificate files now; throws an Error naming `key` (e.g.
   * "listeners.ssl.default.ssl_options") and the file when one cannot be read.
   */
  constructor(key: string, options: SslOptionsConfig) {
    this.#key = key;
    this.#options = options;
    const requestCert = options.verify === "verify_peer";
    this.#server = createServer({
      ...this.#context(),
      requestCert,
      rejectUnauthorized: requestCert && options.failIfNoPeerCert,
      minVersion: options.versions.includes("tlsv1.2") ? "TLSv1.2" : "TLSv1.3",
      maxVersion: options.versions.includes("tlsv1.3") ? "TLSv1.3" : "TLSv1.2",
    });
    this.#server.on("secureConnection", (s: ServerTlsSocket) => this.#secured(s));
    this.#server.on("tlsClientError", (err: Error, s: ServerTlsSocket) => {
      const done = s._parent && this.#take(s._parent);
      done?.tlsFailed(`TLS handshake failed: ${err.message}`);
    });
  }

  /** Re-reads the certificate files; new handshakes use them, open connections keep theirs. */
  reload(): void {
    this.#server.setSecureContext(this.#context());
  }

  /**
   * Starts the server side of TLS on `raw` (whose unread bytes begin with the ClientHello).
   * `done` hears exactly once, or never when the raw socket closes first (its owner sees that).
   */
  handshake(raw: Socket, done: TlsDone): void {
    this.#pending.set(raw, done);
    const timer = setTimeout(() => {
      if (this.#take(raw)) {
        raw.destroy();
        done.tlsFailed(`TLS handshake not done within ${this.#options.handshakeTimeout} ms`);
      }
    }, this.#options.handshakeTimeout);
    raw.once("close", () => {
      clearTimeout(timer);
      this.#pending.delete(raw);
    });
    this.#server.emit("connection", raw);
  }

  #take(raw: Socket): TlsDone | undefined {
    const done = this.#pending.get(raw);
    this.#pending.delete(raw);
    return done;
  }

  #secured(s: ServerTlsSocket): void {
    const done = s._parent && this.#take(s._parent);
    if (!done) {
      s.destroy();
      return;
    }
    const peer = s.getPeerCertificate(true) as { raw?: Uint8Array } | null;
    const der = peer?.raw;
    // verify_peer without fail_if_no_peer_cert: no certificate is fine, a bad one is not.
    if (der && this.#options.verify === "verify_peer" && !s.authorized) {
      s.destroy();
      return done.tlsFailed(`client certificate refused: ${String(s.authorizationError)}`);
    }
    done.tlsReady(s, der ? readPeerCert(new Uint8Array(der)) : null);
  }

  #context(): SecureContextOptions {
    const o = this.#options;
    const read = (field: string, path: string) => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new Error(
          `Cannot read ${this.#key}.${field} "${path}": ${
            err instanceof Error ? err.message : err
          }`,
        );
      }
    };
    return {
      cert: read("certfile", o.certfile),
      key: read("keyfile", o.keyfile),
      ...(o.cacertfile ? { ca: read("cacertfile", o.cacertfile) } : {}),
      ...(o.password ? { passphrase: o.password } : {}),
    };
  }
}
