/**
 * ClientPolicy: what the supervisor enforces per client socket before any MQTT — address bans
 * at accept (EMQX's peerhost and peerhost_net bans, from the node's ban list) and each listener's
 * bytes_rate (a token bucket per connection: what was read is always taken, and over the rate
 * reading of that one socket pauses until the bucket allows more). Private to src/supervisor/;
 * owns the per-connection buckets and their timers, not the ban list (BrokerControl keeps it
 * equal on every isolate).
 *
 * @module
 */

import { type BanEntry, type Banned, ClientLimiter } from "../auth/mod.ts";
import type { Config, Rate } from "../config/types.ts";
import { type Connection, PauseReason } from "./connection.ts";

interface ByteRate {
  readonly limiter: ClientLimiter;
  timer: ReturnType<typeof setTimeout> | null;
}

/** See the file header. */
export class ClientPolicy {
  #config: Config;
  readonly #banned: Banned;
  readonly #byteRates = new Map<Connection, ByteRate>();

  /** A run-time config change: connections opened from now on get its bytes_rate. */
  set config(config: Config) {
    this.#config = config;
  }

  constructor(config: Config, banned: Banned) {
    this.#config = config;
    this.#banned = banned;
  }

  /** The ban that refuses a socket from `peer` ("ip:port"), or null. */
  bannedPeer(peer: string): BanEntry | null {
    return this.#banned.isBannedPeer(hostOf(peer));
  }

  /** A connection was accepted on `listener` ("tcp:default"). */
  opened(conn: Connection, listener: string): void {
    const bytesRate = bytesRateOf(this.#config, listener);
    if (!bytesRate) return;
    this.#byteRates.set(conn, {
      limiter: new ClientLimiter({ bytesRate }, Date.now()),
      timer: null,
    });
  }

  /** `n` bytes were read from `conn`. */
  read(conn: Connection, n: number): void {
    const rate = this.#byteRates.get(conn);
    if (!rate) return;
    const wait = rate.limiter.onBytes(n, Date.now());
    if (wait <= 0 || rate.timer !== null) return;
    conn.pause(PauseReason.Rate);
    rate.timer = setTimeout(() => {
      rate.timer = null;
      conn.resume(PauseReason.Rate);
    }, wait);
  }

  /** The connection is gone. */
  closed(conn: Connection): void {
    const rate = this.#byteRates.get(conn);
    if (!rate) return;
    if (rate.timer !== null) clearTimeout(rate.timer);
    this.#byteRates.delete(conn);
  }
}

/** The IP part of "ip:port" (IPv6 in brackets or not). */
function hostOf(peer: string): string {
  const at = peer.lastIndexOf(":");
  const host = at < 0 ? peer : peer.slice(0, at);
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** The bytes_rate of a listener ("tcp:default"), if it sets one. */
function bytesRateOf(config: Config, listener: string): Rate | null {
  const [type = "", name = ""] = listener.split(":");
  const all = config.listeners as unknown as Record<
    string,
    Record<string, { bytesRate?: Rate | null }>
  >;
  return all[type]?.[name]?.bytesRate ?? null;
}
