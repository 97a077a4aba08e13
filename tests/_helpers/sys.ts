/**
 * Test helper: reading EMQX-style $SYS topics — the stats and metrics names under
 * `$SYS/brokers/{node}/`, and SysReader, which keeps the latest value of each from a watcher
 * subscribed to `$SYS/brokers/{node}/#` and waits for values to satisfy a predicate (bounded);
 * withSysWatcher(), the broker and watcher every $SYS suite (14) starts with.
 */

import type { MqttClient } from "mqtt";
import type { BrokerHandle } from "./broker.ts";
import { clientIdForShard, closeAll, connect, drain, sleep, subscribe } from "./clients.ts";
import { withBroker } from "./suite.ts";

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

/** Shards of the $SYS suites' broker (4: stats and metrics are summed across shards). */
export const SYS_SHARDS = 4;
/** The $SYS suites' node name. */
export const SYS_NODE = "n1@127.0.0.1";
/** `$SYS/brokers/{node}` of SYS_NODE. */
export const SYS = `$SYS/brokers/${SYS_NODE}`;

/** What withSysWatcher() hands its body. */
export interface SysWatch {
  readonly broker: BrokerHandle;
  /** A fresh client id on `shard` of SYS_SHARDS, named after `p`. */
  id(shard: number, p: string): string;
  /** A v5 client on shard 0 subscribed to `${SYS}/#`. */
  readonly watcher: MqttClient;
  /** The latest $SYS values the watcher got. */
  readonly sys: SysReader;
}

/**
 * Starts the $SYS suites' broker (SYS_SHARDS shards, node SYS_NODE, `sys_msg_interval` 1 s),
 * connects and subscribes the watcher, runs `body`, then closes the watcher and stops the broker.
 * Client ids start with `prefix`.
 */
export async function withSysWatcher(
  prefix: string,
  body: (w: SysWatch) => Promise<void>,
): Promise<void> {
  const sets = ["sys_topics.sys_msg_interval=1s", `node.name=${SYS_NODE}`];
  await withBroker({ shards: SYS_SHARDS, sets }, async (broker) => {
    let seq = 0;
    const id = (shard: number, p: string) =>
      clientIdForShard(shard, SYS_SHARDS, `${prefix}${p}${seq++}`);
    const watcher = await connect(broker.url, { protocolVersion: 5, clientId: id(0, "w") });
    // Reading before subscribing: no value of the first interval is missed.
    const sys = new SysReader(watcher, SYS);
    try {
      await subscribe(watcher, `${SYS}/#`, { qos: 0 });
      await body({ broker, id, watcher, sys });
    } finally {
      await closeAll([watcher]);
    }
  });
}
