/**
 * SysTopics: the $SYS/brokers/{node}/... messages. Every shard sends its counters to shard 0
 * each interval (a SysStats record); shard 0 merges them, keeps the maxima and publishes
 * version, uptime, datetime, sysdescr, stats/* and metrics/*. Client lifecycle events are
 * published by the shard that owns the client. Clients can read $SYS (per ACL) but never write
 * it: handlers/publish.ts refuses client publishes there.
 */

import type { Config } from "../config/types.ts";
import type { Message } from "../mqtt/mod.ts";
import { VERSION } from "../version.ts";
import { mergeSnapshots, type MetricSnapshot } from "./metrics.ts";

/** What one shard reports each interval. */
export interface ShardReport {
  readonly metrics: MetricSnapshot;
  readonly connections: number;
  readonly sessions: number;
  readonly subscriptions: number;
  readonly retained: number;
  readonly topics: number;
}

/** Facts about a client for its connected/disconnected event. */
export interface ClientEvent {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly peer: string;
  readonly protocolVersion: number;
  readonly keepalive: number;
  readonly cleanStart: boolean;
}

const encoder = new TextEncoder();
const STATS = ["connections", "sessions", "subscriptions", "topics", "retained"] as const;

/** $SYS publisher of one shard; only shard 0 aggregates and publishes the periodic set. */
export class SysTopics {
  readonly #config: Config;
  readonly #prefix: string;
  readonly #publish: (m: Message) => void;
  readonly #reports = new Map<number, ShardReport>();
  readonly #max = new Map<string, number>();
  readonly #startedAt = Date.now();

  constructor(config: Config, publish: (m: Message) => void) {
    this.#config = config;
    this.#prefix = `$SYS/brokers/${config.node.name}/`;
    this.#publish = publish;
  }

  /** Stores a shard's report (shard 0 only). */
  report(shard: number, r: ShardReport): void {
    this.#reports.set(shard, r);
  }

  /** Publishes the periodic set from the reports received so far (shard 0 only). */
  publishAll(now: number): void {
    const reports = [...this.#reports.values()];
    this.#pub("version", VERSION, true);
    this.#pub("sysdescr", "Culex MQTT broker", true);
    this.#pub("uptime", String(Math.floor((now - this.#startedAt) / 1000)));
    this.#pub("datetime", new Date(now).toISOString());
    for (const name of STATS) {
      // Topics are replicated: every shard sees them all, so take the largest view.
      const count = name === "topics"
        ? Math.max(0, ...reports.map((r) => r.topics))
        : reports.reduce((n, r) => n + r[name], 0);
      const max = Math.max(count, this.#max.get(name) ?? 0);
      this.#max.set(name, max);
      this.#pub(`stats/${name}/count`, String(count));
      this.#pub(`stats/${name}/max`, String(max));
    }
    const merged = mergeSnapshots(reports.map((r) => r.metrics));
    for (const [name, value] of Object.entries(merged)) {
      this.#pub(`metrics/${name.replaceAll(".", "/")}`, String(value));
    }
  }

  clientConnected(c: ClientEvent, now: number): void {
    if (!this.#config.sysTopics.clientConnected) return;
    this.#pub(
      `clients/${c.clientId}/connected`,
      JSON.stringify({
        clientid: c.clientId,
        username: c.username ?? null,
        // "[v6]:port" → "v6" (issue 12: IPv6 clients arrive through PROXY headers too).
        ipaddress: c.peer.slice(0, c.peer.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1"),
        proto_ver: c.protocolVersion,
        keepalive: c.keepalive,
        clean_start: c.cleanStart,
        connected_at: now,
        ts: now,
      }),
    );
  }

  clientDisconnected(c: ClientEvent, reason: string, now: number): void {
    if (!this.#config.sysTopics.clientDisconnected) return;
    this.#pub(
      `clients/${c.clientId}/disconnected`,
      JSON.stringify({
        clientid: c.clientId,
        username: c.username ?? null,
        reason,
        disconnected_at: now,
        ts: now,
      }),
    );
  }

  #pub(suffix: string, payload: string, retain = false): void {
    const now = Date.now();
    this.#publish({
      topic: this.#prefix + suffix,
      payload: encoder.encode(payload),
      qos: 0,
      retain,
      properties: {},
      origin: "",
      expiresAt: 0,
      timestamp: now,
    });
  }
}
