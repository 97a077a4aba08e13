/**
 * HAProxy PROXY protocol v1 (text) and v2 (binary) header parser: the address of the real client
 * in front of a load balancer. Private to src/supervisor/. Pure: bytes in, a verdict out; the
 * listener buffers the bytes and applies the timeout (proxy_protocol_timeout).
 */

/** What the bytes read so far say. */
export type ProxyHeader =
  | { kind: "need-more" }
  | { kind: "invalid"; reason: string }
  /**
   * `source` is "ip:port" ("[v6]:port"), or null for LOCAL / UNKNOWN (keep the socket's).
   * `sslCn`: v2 only, the CN of a client certificate the proxy verified (PP2_TYPE_SSL with
   * PP2_SUBTYPE_SSL_CN), as EMQX reads it when a load balancer terminates TLS; "" when none.
   */
  | { kind: "done"; source: string | null; consumed: number; sslCn?: string };

const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const V1_PREFIX = "PROXY ";
/** A v1 line is at most 107 bytes with its CRLF (the spec's bound). */
const V1_MAX = 107;
/** Largest v2 header accepted (16-byte fixed part + addresses + TLVs). */
const V2_MAX = 16 + 1024;

/**
 * Parses the PROXY header at the start of `buf`.
 *
 * @example
 * ```ts
 * import { parseProxyHeader } from "./_proxy_protocol.ts";
 * import assert from "node:assert/strict";
 * const r = parseProxyHeader(new TextEncoder().encode("PROXY TCP4 1.2.3.4 5.6.7.8 11 22\r\nx"));
 * assert.equal(r.kind, "done");
 * assert.equal(r.kind === "done" && r.consumed, 34);
 * ```
 */
export function parseProxyHeader(buf: Uint8Array): ProxyHeader {
  if (buf.length === 0) return { kind: "need-more" };
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50) return parseV1(buf);
  return { kind: "invalid", reason: "connection does not start with a PROXY protocol header" };
}

function parseV1(buf: Uint8Array): ProxyHeader {
  const n = Math.min(buf.length, V1_MAX);
  for (let i = 0; i < Math.min(n, V1_PREFIX.length); i++) {
    if (buf[i] !== V1_PREFIX.charCodeAt(i)) return invalid("bad PROXY v1 signature");
  }
  let end = -1;
  for (let i = 0; i + 1 < n; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return buf.length >= V1_MAX ? invalid("PROXY v1 line longer than 107 bytes") : needMore();
  }
  const line = String.fromCharCode(...buf.subarray(0, end));
  const parts = line.split(" ");
  const consumed = end + 2;
  if (parts[1] === "UNKNOWN") return { kind: "done", source: null, consumed };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    return invalid(`bad PROXY v1 line "${line}"`);
  }
  const [, proto, src, , sport] = parts as [string, string, string, string, string, string];
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(src);
  if ((proto === "TCP4") !== v4 || !/^\d{1,5}$/.test(sport) || Number(sport) > 65535) {
    return invalid(`bad PROXY v1 address in "${line}"`);
  }
  if (!v4 && !/^[0-9a-fA-F:.]+$/.test(src)) return invalid(`bad PROXY v1 address in "${line}"`);
  return { kind: "done", source: v4 ? `${src}:${sport}` : `[${src}]:${sport}`, consumed };
}

function parseV2(buf: Uint8Array): ProxyHeader {
  for (let i = 0; i < Math.min(buf.length, 12); i++) {
    if (buf[i] !== V2_SIGNATURE[i]) return invalid("bad PROXY v2 signature");
  }
  if (buf.length < 16) return needMore();
  const verCmd = buf[12] as number;
  const fam = buf[13] as number;
  const len = ((buf[14] as number) << 8) | (buf[15] as number);
  if (verCmd >> 4 !== 2) return invalid(`PROXY v2 version ${verCmd >> 4}`);
  if (16 + len > V2_MAX) return invalid(`PROXY v2 header of ${16 + len} bytes`);
  if (buf.length < 16 + len) return needMore();
  const consumed = 16 + len;
  const cmd = verCmd & 0x0f;
  if (cmd === 0x0) return { kind: "done", source: null, consumed }; // LOCAL: health check
  if (cmd !== 0x1) return invalid(`PROXY v2 command ${cmd}`);
  const a = buf.subarray(16, 16 + len);
  if (fam === 0x11 || fam === 0x12) { // TCP or UDP over IPv4
    if (len < 12) return invalid("PROXY v2 IPv4 block too short");
    const port = ((a[8] as number) << 8) | (a[9] as number);
    const source = `${a[0]}.${a[1]}.${a[2]}.${a[3]}:${port}`;
    return done(source, consumed, sslCommonName(a.subarray(12)));
  }
  if (fam === 0x21 || fam === 0x22) { // IPv6
    if (len < 36) return invalid("PROXY v2 IPv6 block too short");
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) {
      groups.push((((a[i] as number) << 8) | (a[i + 1] as number)).toString(16));
    }
    const port = ((a[32] as number) << 8) | (a[33] as number);
    const source = `[${compress(groups)}]:${port}`;
    return done(source, consumed, sslCommonName(a.subarray(36)));
  }
  // AF_UNSPEC or a unix socket: the real address is unknown, keep the socket's.
  return { kind: "done", source: null, consumed };
}

const PP2_TYPE_SSL = 0x20;
const PP2_SUBTYPE_SSL_CN = 0x22;
/** PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN: TLS with a client certificate on this connection. */
const CLIENT_CERT = 0x01 | 0x02;

/**
 * The CN sub-TLV of the PP2_TYPE_SSL TLV in `tlvs`, when the proxy says the client presented a
 * certificate and verified it (verify = 0); "" otherwise. Malformed TLVs give "".
 */
function sslCommonName(tlvs: Uint8Array): string {
  for (let at = 0; at + 3 <= tlvs.length;) {
    const type = tlvs[at] as number;
    const len = ((tlvs[at + 1] as number) << 8) | (tlvs[at + 2] as number);
    const value = tlvs.subarray(at + 3, at + 3 + len);
    if (value.length < len) return "";
    at += 3 + len;
    if (type !== PP2_TYPE_SSL || len < 5) continue;
    const client = value[0] as number;
    const verify = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
    if ((client & CLIENT_CERT) !== CLIENT_CERT || verify !== 0) return "";
    for (let i = 5; i + 3 <= value.length;) {
      const sub = value[i] as number;
      const subLen = ((value[i + 1] as number) << 8) | (value[i + 2] as number);
      const text = value.subarray(i + 3, i + 3 + subLen);
      if (text.length < subLen) return "";
      if (sub === PP2_SUBTYPE_SSL_CN) {
        try {
          return new TextDecoder("utf-8", { fatal: true }).decode(text);
        } catch {
          return "";
        }
      }
      i += 3 + subLen;
    }
  }
  return "";
}

/** The shortest form of eight hex groups (longest run of zero groups as "::"). */
function compress(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

function done(source: string, consumed: number, sslCn: string): ProxyHeader {
  return sslCn ? { kind: "done", source, consumed, sslCn } : { kind: "done", source, consumed };
}

function invalid(reason: string): ProxyHeader {
  return { kind: "invalid", reason };
}

function needMore(): ProxyHeader {
  return { kind: "need-more" };
}
