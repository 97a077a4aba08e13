/**
 * Test helper: reading EMQX-style $SYS topics — the stats and metrics names under
 * `$SYS/brokers/{node}/`, and SysReader, which keeps the latest value of each from a watcher
 * subscribed to `$SYS/brokers/{node}/#` and waits for values to satisfy a predicate (bounded).
 */

import type { MqttClient } from "mqtt";
import { drain, sleep } from "./clients.ts";

export const STATS = ["connections", "sessions", "subscriptions", "topics", "retained"].flatMap((
  s,
) => [
  `stats/${s}/count`,
  `stats/${s}/max`,
]);
export const PACKETS_RECEIVED = [
  "connect",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "unsubscribe",
  "pingreq",
  "disconnect",
  "auth",
];
export const PACKETS_SENT = [
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "suback",
  "unsuback",
  "pingresp",
  "disconnect",
  "auth",
];
export const METRICS = [
  "metrics/bytes/received",
  "metrics/bytes/sent",
  "metrics/packets/received",
  "metrics/packets/sent",
  ...PACKETS_RECEIVED.map((p) => `metrics/packets/${p}/received`),
  ...PACKETS_SENT.map((p) => `metrics/packets/${p}/sent`),
  "metrics/messages/received",
  "metrics/messages/sent",
  "metrics/messages/dropped",
  ...[0, 1, 2].flatMap((
    q,
  ) => [`metrics/messages/qos${q}/received`, `metrics/messages/qos${q}/sent`]),
];

/** The latest value of each $SYS/brokers/{node}/ topic, read from a watcher's inbox. */
export class SysReader {
  #latest = new Map<string, string>();
  constructor(readonly watcher: MqttClient, readonly prefix: string) {}
  async #pump(): Promise<void> {
    for (const m of await drain(this.watcher, 0)) {
      if (m.topic.startsWith(`${this.prefix}/`)) {
        this.#latest.set(m.topic.slice(this.prefix.length + 1), m.payload);
      }
    }
  }
  /** The latest value of name as a number (NaN when absent or not an integer). */
  num(name: string): number {
    const v = this.#latest.get(name);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
  }
  /** Forgets what was read, so that only publications from now on count. */
  async reset(): Promise<void> {
    await this.#pump();
    this.#latest.clear();
  }
  /**
   * Values of names once two fresh publications in a row agree (at most timeoutMs): earlier
   * changes (clients that just left) have then reached the statistics.
   */
  async settled(names: readonly string[], timeoutMs = 6_000): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      await this.reset();
      const v = await this.waitFor(names, () => true, "settled values", timeoutMs);
      const now = JSON.stringify(v);
      if (now === last) return v;
      if (Date.now() > deadline) throw new Error(`${names} still changing: ${last} → ${now}`);
      last = now;
    }
  }
  /** Values of names, read until pred holds for them (at most timeoutMs). */
  async waitFor(
    names: readonly string[],
    pred: (v: Record<string, number>) => boolean,
    what: string,
    timeoutMs = 5_000,
  ): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    let v: Record<string, number> = {};
    for (;;) {
      await this.#pump();
      v = Object.fromEntries(names.map((n) => [n, this.num(n)]));
      if (names.every((n) => !Number.isNaN(v[n])) && pred(v)) return v;
      if (Date.now() > deadline) {
        throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(v)}`);
      }
      await sleep(100);
    }
  }
}

export const COUNTS = ["connections", "sessions", "subscriptions", "topics"].map((s) =>
  `stats/${s}/count`
);
