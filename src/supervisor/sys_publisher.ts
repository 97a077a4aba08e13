/**
 * SysPublisher: the periodic `$SYS/brokers/{node}/...` set, as EMQX publishes it, every
 * `sys_topics.sys_msg_interval`: version and sysdescr (retained), uptime, datetime,
 * `stats/{name}/count|max` and `metrics/{a}/{b}` (a metric's dots become levels). The numbers
 * come from every shard through BrokerControl (request/reply); the messages go out through its
 * publish with source "sys", so they pass `message.publish` like any other (the maxima are
 * BrokerControl's `.max` stats). Owns its timer. Client connected/disconnected events are the shards' (src/shard/sys.ts).
 *
 * @module
 */

import type { BrokerControl, PublishRequest } from "./broker_control.ts";
import { VERSION } from "../version.ts";

/** The stats published as `stats/{name}/count` and `/max` (EMQX's $SYS names). */
const STATS: readonly [string, string][] = [
  ["connections", "connections.count"],
  ["sessions", "sessions.count"],
  ["subscriptions", "subscriptions.count"],
  ["topics", "topics.count"],
  ["retained", "retained.count"],
];

/** Reports a failed round (a shard did not answer): logged, the next round tries again. */
export type SysFailure = (err: unknown) => void;

/** See the file header. */
export class SysPublisher {
  readonly #control: BrokerControl;
  readonly #prefix: string;
  readonly #startedAt = Date.now();
  readonly #onFailure: SysFailure;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;

  constructor(control: BrokerControl, nodeName: string, onFailure: SysFailure) {
    this.#control = control;
    this.#prefix = `$SYS/brokers/${nodeName}/`;
    this.#onFailure = onFailure;
  }

  /** Publishes every `intervalMs` (0 = never) until stop(). */
  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.publishOnce(), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One round: gather, then publish the set. Rounds never overlap. */
  async publishOnce(now = Date.now()): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const [stats, metrics] = await Promise.all([this.#control.stats(), this.#control.metrics()]);
      const out: PublishRequest[] = [];
      const pub = (suffix: string, payload: string, retain = false) =>
        out.push({ topic: this.#prefix + suffix, payload, retain, qos: 0 });
      pub("version", VERSION, true);
      pub("sysdescr", "Culex MQTT broker", true);
      pub("uptime", String(Math.floor((now - this.#startedAt) / 1000)));
      pub("datetime", new Date(now).toISOString());
      for (const [name, key] of STATS) {
        const count = stats[key] ?? 0;
        // The node's high-water mark, the same as /stats and Prometheus show (_stats_peaks.ts).
        const max = Math.max(count, stats[`${name}.max`] ?? 0);
        pub(`stats/${name}/count`, String(count));
        pub(`stats/${name}/max`, String(max));
      }
      for (const [name, value] of Object.entries(metrics)) {
        pub(`metrics/${name.replaceAll(".", "/")}`, String(value));
      }
      await this.#control.publish(out, "sys");
    } catch (err) {
      this.#onFailure(err);
    } finally {
      this.#running = false;
    }
  }
}
