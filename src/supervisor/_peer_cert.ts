/**
 * What the broker reads from a TLS client certificate: common name, subject as an RFC 4514
 * string (EMQX's `${cert_subject}`, e.g. "CN=device-42,O=Acme,C=SE"), and the values of
 * mqtt.peer_cert_as_username / peer_cert_as_clientid. Private to src/supervisor/. Pure (hashing
 * aside): DER bytes in, strings out.
 */

import { createHash, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import type { PeerCertAs } from "../config/types.ts";

/** The certificate a TLS client presented, and the strings derived from it. */
export interface PeerCert {
  /** Null when only the CN is known (from a PROXY v2 header). */
  readonly der: Uint8Array | null;
  /** The CN attributes ("," between several), "" when the subject has none. */
  readonly commonName: string;
  /** RFC 4514 subject: attributes in reverse order, "," between them. */
  readonly subject: string;
}

function encodeBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** RFC 4514 escaping of an attribute value. */
function escapeValue(v: string): string {
  let out = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith("#") || out.startsWith(" ")) out = `\\${out}`;
  if (out.endsWith(" ") && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Reads a DER certificate; null when it does not parse. */
export function readPeerCert(der: Uint8Array): PeerCert | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(der);
  } catch {
    return null;
  }
  // Node (and Deno) print the subject one attribute per line, in certificate order.
  const attrs = x.subject.split("\n").filter((l) => l.includes("=")).map((l) => {
    const eq = l.indexOf("=");
    return [l.slice(0, eq), l.slice(eq + 1)] as const;
  });
  const commonName = attrs.filter(([k]) => k === "CN").map(([, v]) => v).join(",");
  const subject = attrs.toReversed().map(([k, v]) => `${k}=${escapeValue(v)}`).join(",");
  return { der, commonName, subject };
}

/**
 * The value mqtt.peer_cert_as_* = `as` gives for `cert` (EMQX's set_peercert_infos): "" when
 * disabled or when the field is empty (then the CONNECT's own value stays).
 * `cn`, `dn`; `pem`: base64 of the DER bytes; `md5`: hex MD5 of the DER bytes; `crt`: the
 * certificate as PEM text (EMQX passes the raw DER, which is not valid UTF-8 for an MQTT string).
 */
export function peerCertAs(as: PeerCertAs, cert: PeerCert | null): string {
  if (cert === null || as === "disabled") return "";
  if (cert.der === null) return as === "cn" || as === "dn" ? cert.commonName : "";
  switch (as) {
    case "cn":
      return cert.commonName;
    case "dn":
      return cert.subject;
    case "pem":
      return encodeBase64(cert.der);
    case "md5":
      return createHash("md5").update(cert.der).digest("hex");
    case "crt": {
      const b64 = encodeBase64(cert.der).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
      return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
    }
  }
}
