/**
 * Banned: EMQX's banned list (emqx_banned). Entries by `clientid`, `username`, `peerhost`
 * (exact, in maps: O(1)) and `clientid_re`, `username_re`, `peerhost_net` (scanned; few in
 * practice), each with `by`, `reason`, `at`, `until`. Owned by src/auth/. isBanned() and
 * isBannedPeer() are synchronous; expired entries are dropped when met and by purge().
 * Persisting and broadcasting changes to other isolates belong to the callers.
 */

import { parseCsv } from "./csv.ts";
import { type Cidr, ipInCidr, parseCidr, parseIp } from "./ip.ts";
import type { ClientInfo } from "./client.ts";
import type { BannedConfig } from "../config/types_auth.ts";

export type BanAs =
  | "clientid"
  | "username"
  | "peerhost"
  | "clientid_re"
  | "username_re"
  | "peerhost_net";
export const BAN_AS: readonly BanAs[] = [
  "clientid",
  "username",
  "peerhost",
  "clientid_re",
  "username_re",
  "peerhost_net",
];

/** One ban. `at` and `until` are epoch ms; `until` Infinity = never ends. */
export interface BanEntry {
  readonly as: BanAs;
  readonly who: string;
  readonly by: string;
  readonly reason: string;
  readonly at: number;
  readonly until: number;
}

/** What add() takes: `as` and `who`, the rest defaulted as EMQX does. */
export interface BanInput {
  readonly as: BanAs;
  readonly who: string;
  readonly by?: string | undefined;
  readonly reason?: string | undefined;
  readonly at?: number | undefined;
  readonly until?: number | undefined;
}

interface Compiled {
  readonly entry: BanEntry;
  readonly re?: RegExp;
  readonly net?: Cidr;
}

/** The banned list of one isolate. */
export class Banned {
  readonly #exact = new Map<string, BanEntry>();
  readonly #scanned = new Map<string, Compiled>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Adds a ban. Returns `{ added }`, or `{ exists }` with the ban already there (EMQX's
   * ALREADY_EXISTS). Throws a TypeError for a bad regex or CIDR or an `until` in the past.
   */
  add(input: BanInput): { added: BanEntry } | { exists: BanEntry } {
    const now = this.#now();
    const entry: BanEntry = {
      as: input.as,
      who: input.who,
      by: input.by ?? "mgmt_api",
      reason: input.reason ?? "",
      at: input.at ?? now,
      until: input.until ?? Infinity,
    };
    if (!BAN_AS.includes(entry.as)) throw new TypeError(`"as" must be one of ${BAN_AS.join(", ")}`);
    if (entry.until <= now) throw new TypeError("until must be in the future");
    const key = keyOf(entry.as, entry.who);
    const existing = this.#find(key);
    if (existing) return { exists: existing };
    if (entry.as === "clientid_re" || entry.as === "username_re") {
      let re: RegExp;
      try {
        re = new RegExp(entry.who);
      } catch (e) {
        throw new TypeError(`bad regular expression "${entry.who}": ${(e as Error).message}`);
      }
      this.#scanned.set(key, { entry, re });
    } else if (entry.as === "peerhost_net") {
      const net = parseCidr(entry.who);
      if (!net) throw new TypeError(`"${entry.who}" is not a CIDR range`);
      this.#scanned.set(key, { entry, net });
    } else {
      if (entry.as === "peerhost" && !parseIp(entry.who)) {
        throw new TypeError(`"${entry.who}" is not an IP address`);
      }
      this.#exact.set(key, entry);
    }
    return { added: entry };
  }

  #find(key: string): BanEntry | undefined {
    return this.#exact.get(key) ?? this.#scanned.get(key)?.entry;
  }

  /** Removes one ban; false when there was none. */
  delete(as: BanAs, who: string): boolean {
    const key = keyOf(as, who);
    return this.#exact.delete(key) || this.#scanned.delete(key);
  }

  /** Removes every ban (DELETE /banned). */
  clear(): void {
    this.#exact.clear();
    this.#scanned.clear();
  }

  /** Every ban still in force. */
  list(): BanEntry[] {
    this.purge();
    return [...this.#exact.values(), ...[...this.#scanned.values()].map((c) => c.entry)];
  }

  /** Drops expired bans; returns how many. */
  purge(): number {
    const now = this.#now();
    let n = 0;
    for (const [k, e] of this.#exact) if (e.until <= now && this.#exact.delete(k)) n++;
    for (const [k, c] of this.#scanned) if (c.entry.until <= now && this.#scanned.delete(k)) n++;
    return n;
  }

  /** True while no ban is held: callers skip the per-connection checks. */
  get empty(): boolean {
    return this.#exact.size === 0 && this.#scanned.size === 0;
  }

  /** The ban that refuses this client at CONNECT, or null. */
  isBanned(info: Pick<ClientInfo, "clientId" | "username" | "peerhost">): BanEntry | null {
    // No bans (the usual case): no keys built, no clock read, on every CONNECT.
    if (this.#exact.size === 0 && this.#scanned.size === 0) return null;
    const now = this.#now();
    const hit = this.#live(keyOf("clientid", info.clientId), now) ??
      (info.username === undefined ? null : this.#live(keyOf("username", info.username), now)) ??
      this.#live(keyOf("peerhost", info.peerhost), now);
    if (hit) return hit;
    if (this.#scanned.size === 0) return null;
    for (const [k, c] of this.#scanned) {
      const e = c.entry;
      const match = e.as === "clientid_re"
        ? c.re?.test(info.clientId)
        : e.as === "username_re"
        ? info.username !== undefined && c.re?.test(info.username)
        : c.net !== undefined && ipInCidr(info.peerhost, c.net);
      if (!match) continue;
      if (e.until > now) return e;
      this.#scanned.delete(k);
    }
    return null;
  }

  /** The ban that refuses this address at accept (peerhost, peerhost_net), or null. */
  isBannedPeer(peerhost: string): BanEntry | null {
    if (this.#exact.size === 0 && this.#scanned.size === 0) return null;
    const now = this.#now();
    const hit = this.#live(keyOf("peerhost", peerhost), now);
    if (hit) return hit;
    for (const c of this.#scanned.values()) {
      if (c.net && c.entry.until > now && ipInCidr(peerhost, c.net)) return c.entry;
    }
    return null;
  }

  #live(key: string, now: number): BanEntry | null {
    const e = this.#exact.get(key);
    if (!e) return null;
    if (e.until > now) return e;
    this.#exact.delete(key);
    return null;
  }

  /**
   * Loads EMQX's banned bootstrap CSV (`as,who,reason,at,until,by`; only `as` and `who`
   * required; times RFC 3339 or epoch seconds; empty or "infinity" until = never). Entries
   * already present or already expired are skipped. Throws a SyntaxError naming the line.
   */
  loadBootstrap(text: string, source = "banned bootstrap file"): number {
    let n = 0;
    for (const { line, values } of parseCsv(text, ["as", "who"], source)) {
      try {
        const until = parseTime(values.until, Infinity);
        if (until <= this.#now()) continue;
        const r = this.add({
          as: values.as as BanAs,
          who: values.who ?? "",
          by: values.by || "boot_loader",
          reason: values.reason ?? "",
          at: parseTime(values.at, this.#now()),
          until,
        });
        if ("added" in r) n++;
      } catch (e) {
        throw new SyntaxError(`${source} line ${line}: ${(e as Error).message}`);
      }
    }
    return n;
  }
}

function keyOf(as: BanAs, who: string): string {
  return `${as}\0${who}`;
}

/** RFC 3339 or epoch seconds; `fallback` when empty ("infinity" = Infinity). */
export function parseTime(v: string | undefined, fallback: number): number {
  if (v === undefined || v.trim() === "") return fallback;
  if (v.trim() === "infinity") return Infinity;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new TypeError(`"${v}" is not an RFC 3339 time or epoch seconds`);
  return t;
}

/**
 * The Banned list of `banned` config: empty, or loaded from `bootstrap_file` (EMQX's CSV).
 * Throws a SyntaxError naming the file and line when the file is invalid (a startup error).
 */
export function createBanned(cfg: BannedConfig, now: () => number = Date.now): Banned {
  const b = new Banned(now);
  if (cfg.bootstrapFile) {
    b.loadBootstrap(Deno.readTextFileSync(cfg.bootstrapFile), cfg.bootstrapFile);
  }
  return b;
}
