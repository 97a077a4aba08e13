/**
 * TLS on the node links (`cluster.ssl_options`): the accepting side is the listeners'
 * TlsTerminator (node:tls, client certificates checked as `verify` / `fail_if_no_peer_cert`
 * say), the dialling side a node:tls client that presents the same certificate and, with
 * `verify: verify_peer`, checks the peer's against `cacertfile` and the dialled address (its
 * subjectAltName). The cookie handshake still runs inside TLS. Private to src/supervisor/; the
 * Cluster only sees the LinkTls interface.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { isIP, type Socket } from "node:net";
import { connect } from "node:tls";
import type { LinkTls } from "../cluster/host.ts";
import type { SslOptionsConfig } from "../config/types.ts";
import { TlsTerminator } from "./_tls.ts";

const KEY = "cluster.ssl_options";

/** Builds the link TLS; throws naming the key and file when a file cannot be read. */
export function clusterTls(o: SslOptionsConfig): LinkTls {
  const terminator = new TlsTerminator(KEY, o);
  const read = (field: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(
        `Cannot read ${KEY}.${field} "${path}": ${err instanceof Error ? err.message : err}`,
      );
    }
  };
  const context = {
    cert: read("certfile", o.certfile),
    key: read("keyfile", o.keyfile),
    ...(o.cacertfile ? { ca: read("cacertfile", o.cacertfile) } : {}),
    ...(o.password ? { passphrase: o.password } : {}),
  };
  return {
    accept(raw: Socket, done: (secured: Socket | null, why: string) => void): void {
      terminator.handshake(raw, {
        tlsReady: (s) => done(s, ""),
        tlsFailed: (why) => done(null, why),
      });
    },
    connect(host: string, port: number): Socket {
      return connect({
        host,
        port,
        ...context,
        rejectUnauthorized: o.verify === "verify_peer",
        minVersion: o.versions.includes("tlsv1.2") ? "TLSv1.2" : "TLSv1.3",
        maxVersion: o.versions.includes("tlsv1.3") ? "TLSv1.3" : "TLSv1.2",
        // SNI carries names only; an address is checked against the certificate's IP SANs.
        ...(isIP(host) ? {} : { servername: host }),
      });
    },
  };
}
