/**
 * Fuzz helper: the well-behaved clients that watch a broker while a flood runs. A HealthyPair is
 * a publisher and a subscriber (npm:mqtt, 3.1.1 or 5.0) exchanging numbered QoS 1 messages at a
 * steady pace; it records every delivery's latency and PUBACK round trip and checks delivery:
 * each message once, in order, a repeat only with DUP set [MQTT-4.3.2], [MQTT-4.6.0-2]. probe()
 * is a fresh client that must be accepted. Owns those clients; records times, asserts none.
 */

import type { MqttClient } from "mqtt";
import {
  connackOf,
  connect,
  type ConnectOptions,
  disconnect,
  drain,
  isClosed,
  publish,
  sleep,
  subscribe,
} from "../clients.ts";

/** Options of a pair. */
export interface PairOptions {
  url: string;
  version: 4 | 5;
  pubId: string;
  subId: string;
  topic: string;
  /** A will for the publisher; it must never be published if the pair ends cleanly. */
  will?: { topic: string; payload: string };
  /** Pause between two messages (after the PUBACK of the first). */
  intervalMs: number;
  /** Most messages the pair sends (a bound on the pump). */
  maxMessages: number;
}

/** What a pair saw. */
export interface PairReport {
  name: string;
  sent: number;
  /** Distinct messages delivered. */
  delivered: number;
  /** Repeats with DUP set (allowed at QoS 1). */
  dupRedeliveries: number;
  /** Problems: losses, repeats without DUP, order breaks, failed publishes, drops. */
  problems: string[];
  /** Publish → delivery at the subscriber, ms, per message. */
  latencies: number[];
  /** PUBLISH → PUBACK at the publisher, ms, per message. */
  pubackRtts: number[];
}

/** A publisher/subscriber pair; see the file header. */
export class HealthyPair {
  readonly name: string;
  readonly pub: MqttClient;
  readonly sub: MqttClient;
  readonly #o: PairOptions;
  readonly #sentAt = new Map<number, number>();
  readonly #seen = new Set<number>();
  #expected = 0;
  #sent = 0;
  #dups = 0;
  #running = false;
  #pump: Promise<void> = Promise.resolve();
  readonly #problems: string[] = [];
  readonly #latencies: number[] = [];
  readonly #rtts: number[] = [];

  private constructor(o: PairOptions, pub: MqttClient, sub: MqttClient) {
    this.#o = o;
    this.pub = pub;
    this.sub = sub;
    this.name = `v${o.version} ${o.pubId}->${o.subId}`;
    sub.on("message", (topic, payload, packet) => {
      if (topic === o.topic) this.#onMessage(Number(new TextDecoder().decode(payload)), packet.dup);
    });
  }

  /** Connects the subscriber (and subscribes at QoS 1), then the publisher. */
  static async open(o: PairOptions): Promise<HealthyPair> {
    const sub = await connect(o.url, { protocolVersion: o.version, clientId: o.subId });
    try {
      await subscribe(sub, o.topic, { qos: 1 });
      const opts: ConnectOptions = { protocolVersion: o.version, clientId: o.pubId };
      if (o.will) {
        opts.will = { topic: o.will.topic, payload: o.will.payload, qos: 1, retain: false };
      }
      const pub = await connect(o.url, opts);
      return new HealthyPair(o, pub, sub);
    } catch (e) {
      await disconnect(sub);
      throw e;
    }
  }

  #onMessage(seq: number, dup: boolean): void {
    const at = this.#sentAt.get(seq);
    if (this.#seen.has(seq)) {
      if (dup) this.#dups++;
      else this.#problems.push(`${this.name}: message ${seq} delivered again without DUP`);
      return;
    }
    this.#seen.add(seq);
    if (at !== undefined) this.#latencies.push(performance.now() - at);
    if (seq !== this.#expected) {
      this.#problems.push(`${this.name}: message ${seq} arrived when ${this.#expected} was due`);
    }
    this.#expected = Math.max(this.#expected, seq + 1);
  }

  /** Starts publishing one message every intervalMs (bounded by maxMessages). */
  start(): void {
    this.#running = true;
    this.#pump = (async () => {
      while (this.#running && this.#sent < this.#o.maxMessages) {
        const seq = this.#sent;
        const t = performance.now();
        this.#sentAt.set(seq, t);
        try {
          await publish(this.pub, this.#o.topic, String(seq), { qos: 1 }, 10_000);
        } catch (e) {
          this.#problems.push(`${this.name}: publish ${seq} failed: ${(e as Error).message}`);
          return;
        }
        this.#rtts.push(performance.now() - t);
        this.#sent++;
        // The clients' inboxes (clients.ts) keep every message; this pair reads its own events.
        if (seq % 200 === 0) await drain(this.sub, 0);
        await sleep(this.#o.intervalMs);
      }
    })();
  }

  /** Both clients still connected. */
  get connected(): boolean {
    return !isClosed(this.pub) && !isClosed(this.sub);
  }

  /** Latencies recorded so far (ms); a copy. */
  latencies(): number[] {
    return [...this.#latencies];
  }

  /**
   * Stops publishing, waits (at most waitMs) for every sent message to arrive, and reports. The
   * clients stay connected; end() disconnects them.
   */
  async stop(waitMs: number): Promise<PairReport> {
    this.#running = false;
    await this.#pump;
    const end = Date.now() + waitMs;
    while (this.#seen.size < this.#sent && Date.now() < end && this.connected) await sleep(20);
    const problems = [...this.#problems];
    if (isClosed(this.pub)) problems.push(`${this.name}: the publisher was disconnected`);
    if (isClosed(this.sub)) problems.push(`${this.name}: the subscriber was disconnected`);
    const lost: number[] = [];
    for (let i = 0; i < this.#sent && lost.length < 10; i++) if (!this.#seen.has(i)) lost.push(i);
    if (lost.length > 0) {
      const n = this.#sent - this.#seen.size;
      problems.push(`${this.name}: ${n} of ${this.#sent} acknowledged messages lost, e.g. ${lost}`);
    }
    return {
      name: this.name,
      sent: this.#sent,
      delivered: this.#seen.size,
      dupRedeliveries: this.#dups,
      problems,
      latencies: [...this.#latencies],
      pubackRtts: [...this.#rtts],
    };
  }

  /** Ends both clients with a clean DISCONNECT. */
  async end(): Promise<void> {
    await Promise.all([disconnect(this.pub), disconnect(this.sub)]);
  }
}

/** Result of one fresh connect. */
export interface ProbeResult {
  ok: boolean;
  /** What went wrong, when not ok. */
  error: string;
}

/**
 * A fresh client connects, must get CONNACK 0, and disconnects cleanly. Never rejects.
 */
export async function probe(
  url: string,
  version: 4 | 5,
  clientId: string,
  timeoutMs = 5_000,
): Promise<ProbeResult> {
  let client: MqttClient | null = null;
  try {
    client = await connect(url, { protocolVersion: version, clientId, timeoutMs });
    const ack = connackOf(client);
    const code = version === 5 ? ack.reasonCode ?? 0 : ack.returnCode ?? 0;
    if (code !== 0) return { ok: false, error: `${clientId} v${version}: CONNACK code ${code}` };
    return { ok: true, error: "" };
  } catch (e) {
    return { ok: false, error: `${clientId} v${version}: ${(e as Error).message}` };
  } finally {
    if (client) await disconnect(client);
  }
}

/** p50, p99 and max of a list of numbers (NaN when empty). */
export function percentiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] as number };
}
