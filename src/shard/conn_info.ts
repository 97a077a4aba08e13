/**
 * ConnInfo: what the supervisor tells a shard about a new connection beyond its id, listener and
 * address (ConnOpen, record format 2; field order in docs/contracts.md): the listener's zone and
 * enable_authn, the TLS client certificate's common name and subject (authentication's
 * `${cert_common_name}` / `${cert_subject}`), the username and client id taken from the
 * certificate (mqtt.peer_cert_as_username / peer_cert_as_clientid), and a WebSocket's
 * authentication cookie. Owned by the listeners work of issue 12; pure data, read once per
 * connection.
 */

import type { FieldReader } from "../ipc/mod.ts";

/** See the file header. "" means "none" in every string field. */
export interface ConnInfo {
  readonly zone: string;
  readonly enableAuthn: boolean | "quick_deny_anonymous";
  readonly certCommonName: string;
  readonly certSubject: string;
  /** Replaces the CONNECT's username when not "" (peer_cert_as_username). */
  readonly usernameOverride: string;
  /** Replaces the CONNECT's client id when not "" (peer_cert_as_clientid). */
  readonly clientIdOverride: string;
  /** WebSocket: value of the cookie named by websocket.auth_cookie_name. */
  readonly cookie: string;
}

/** What a connection without any of the above gets (plain TCP on the default zone). */
export const DEFAULT_CONN_INFO: ConnInfo = Object.freeze({
  zone: "default",
  enableAuthn: true,
  certCommonName: "",
  certSubject: "",
  usernameOverride: "",
  clientIdOverride: "",
  cookie: "",
});

// One shared object per (zone, enable_authn) for connections with nothing else to say, so
// 20,000 plain TCP clients do not carry 20,000 copies.
const plain = new Map<string, ConnInfo>([["default/1", DEFAULT_CONN_INFO]]);

/**
 * Reads the fields after ConnOpen's assigned client id. A format-1 record (nothing left) gives
 * DEFAULT_CONN_INFO.
 */
export function readConnInfo(r: FieldReader): ConnInfo {
  if (r.remaining === 0) return DEFAULT_CONN_INFO;
  const zone = r.str();
  const authn = r.u8();
  const enableAuthn = authn === 1 ? true : authn === 0 ? false : "quick_deny_anonymous";
  const certCommonName = r.str();
  const certSubject = r.str();
  const usernameOverride = r.str();
  const clientIdOverride = r.str();
  const cookie = r.str();
  if (certCommonName + certSubject + usernameOverride + clientIdOverride + cookie === "") {
    const key = `${zone}/${authn}`;
    let known = plain.get(key);
    if (!known) {
      known = Object.freeze({ ...DEFAULT_CONN_INFO, zone, enableAuthn });
      plain.set(key, known);
    }
    return known;
  }
  return {
    zone,
    enableAuthn,
    certCommonName,
    certSubject,
    usernameOverride,
    clientIdOverride,
    cookie,
  };
}
