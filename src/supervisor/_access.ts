/**
 * access_rules of a listener: does an address pass the listener's allow/deny list (first match
 * wins, no match allows, as EMQX's esockd_access). Private to src/supervisor/. Pure: addresses in,
 * verdicts out; the rules come parsed from src/config/.
 */

import { isIP } from "node:net";
import type { AccessRule } from "../config/types.ts";

/** 16 bytes of an IPv6 address, or of an IPv4 address mapped into IPv6 (::ffff:a.b.c.d). */
function toBytes(address: string): Uint8Array | null {
  let text = address;
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const family = isIP(text);
  if (family === 4) return v4mapped(text);
  if (family !== 6) return null;
  const out = new Uint8Array(16);
  // A trailing dotted IPv4 part counts as two groups.
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tail = v4mapped(text.slice(lastColon + 1)).subarray(12);
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const [head = "", rest] = text.split("::");
  const h = head === "" ? [] : head.split(":");
  const r = rest === undefined ? [] : rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill("0"), ...r];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

function v4mapped(text: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  text.split(".").forEach((p, i) => (out[12 + i] = Number(p)));
  return out;
}

/** Whether `addr` lies in `net/prefix` (prefix counted on the 128-bit form). */
function inNet(addr: Uint8Array, net: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    const i = bit >> 3;
    if (((addr[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** A compiled rule list; see the file header. */
export class AccessRules {
  #rules: { allow: boolean; text: string; net: Uint8Array | null; prefix: number }[];
  /** True when the list allows everyone (the default), so checks can be skipped. */
  readonly allowsAll: boolean;

  constructor(rules: readonly AccessRule[]) {
    this.#rules = rules.map((r) => {
      if (r.cidr === "all") {
        return { allow: r.action === "allow", text: r.text, net: null, prefix: 0 };
      }
      const v4 = isIP(r.cidr.address) === 4;
      return {
        allow: r.action === "allow",
        text: r.text,
        net: toBytes(r.cidr.address),
        prefix: v4 ? 96 + r.cidr.prefix : r.cidr.prefix,
      };
    });
    const first = this.#rules[0];
    this.allowsAll = this.#rules.length === 0 || (first?.net === null && first.allow);
  }

  /**
   * The first rule matching `address` (an IP, "[v6]" allowed), or null when none does (then the
   * connection is allowed). An address that does not parse matches only "all" rules.
   *
   * @example
   * ```ts ignore
   * new AccessRules([...]).match("10.1.2.3")?.allow;
   * ```
   */
  match(address: string): { allow: boolean; text: string } | null {
    const bytes = toBytes(address);
    for (const r of this.#rules) {
      if (r.net === null) return r;
      if (bytes && inNet(bytes, r.net, r.prefix)) return r;
    }
    return null;
  }

  /** Whether `address` may connect. */
  allows(address: string): boolean {
    return this.match(address)?.allow ?? true;
  }
}

/** The host part of "ip:port" / "[v6]:port". */
export function hostOf(peer: string): string {
  if (peer.startsWith("[")) return peer.slice(1, peer.indexOf("]"));
  const colon = peer.lastIndexOf(":");
  return colon >= 0 ? peer.slice(0, colon) : peer;
}
