/**
 * IP addresses and CIDR ranges for ACL `who`, simple rules, bans (`peerhost_net`) and listener
 * access rules. Owned by src/auth/. Pure: parses text, compares bytes; no DNS, no I/O.
 * IPv4-mapped IPv6 peers ("::ffff:10.0.0.1") match IPv4 ranges, as a dual-stack socket reports
 * IPv4 clients that way.
 */

/** A parsed range: address bytes (4 or 16) and prefix length. */
export interface Cidr {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Bytes of an IPv4 or IPv6 address, or null when `text` is not one. */
export function parseIp(text: string): Uint8Array | null {
  const t = text.trim();
  if (t.includes(":")) return parseIpv6(t);
  return parseIpv4(t);
}

function parseIpv4(t: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(t: string): Uint8Array | null {
  let text = t;
  let tail: Uint8Array | null = null;
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4) {
    tail = parseIpv4(v4[1] as string);
    if (!tail) return null;
    text = text.slice(0, -(v4[1] as string).length) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (const [i, g] of all.entries()) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/**
 * Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). Null when invalid.
 *
 * @example
 * ```ts
 * import { ipInCidr, parseCidr } from "./ip.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ipInCidr("10.1.2.3", parseCidr("10.0.0.0/8")!), true);
 * assert.equal(ipInCidr("11.1.2.3", parseCidr("10.0.0.0/8")!), false);
 * ```
 */
export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.trim().split("/");
  if (extra !== undefined || addr === undefined) return null;
  const bytes = parseIp(addr);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (prefix < 0 || prefix > max) return null;
  return { text: text.trim(), bytes, prefix };
}

/** Whether address `ip` (text or bytes) lies in `net`. */
export function ipInCidr(ip: string | Uint8Array | null, net: Cidr): boolean {
  let bytes = typeof ip === "string" ? parseIp(ip) : ip;
  if (!bytes) return false;
  if (bytes.length === 16 && net.bytes.length === 4 && isV4Mapped(bytes)) {
    bytes = bytes.subarray(12);
  }
  if (bytes.length !== net.bytes.length) return false;
  const full = net.prefix >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== net.bytes[i]) return false;
  const bits = net.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((bytes[full] as number) & mask) === ((net.bytes[full] as number) & mask);
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
