/**
 * Metrics: the counters of one shard (packets and bytes by direction and type, messages by QoS,
 * drops). Plain numbers, merged across shards by the $SYS publisher; nothing here is reset.
 */

const PACKET_TYPES = [
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
] as const;

const RECEIVED = new Map<string, string>(PACKET_TYPES.map((t) => [t, `packets.${t}.received`]));
const SENT = new Map<string, string>(PACKET_TYPES.map((t) => [t, `packets.${t}.sent`]));
const QOS_RECEIVED = ["messages.qos0.received", "messages.qos1.received", "messages.qos2.received"];
const QOS_SENT = ["messages.qos0.sent", "messages.qos1.sent", "messages.qos2.sent"];

/** The other counters, present from the start (EMQX's names, emqx_metrics.hrl). */
const COUNTERS = [
  "messages.dropped",
  "messages.dropped.no_subscribers",
  "messages.dropped.await_pubrel_timeout",
  "messages.delayed",
  "messages.retained",
  "messages.delivered",
  "delivery.dropped",
  "delivery.dropped.queue_full",
  "delivery.dropped.qos0_msg",
  "delivery.dropped.expired",
  "delivery.dropped.too_large",
  "client.connected",
  "client.disconnected",
  "session.created",
  "session.takenover",
  "session.discarded",
  "session.terminated",
];

/** Counter name → value, with EMQX's metric names ("packets.publish.received", ...). */
export type MetricSnapshot = Record<string, number>;

/** One shard's counters. */
export class Metrics {
  readonly #c = new Map<string, number>();

  constructor() {
    for (const name of ["bytes", "packets"]) {
      this.#c.set(`${name}.received`, 0);
      this.#c.set(`${name}.sent`, 0);
    }
    for (const t of PACKET_TYPES) {
      this.#c.set(`packets.${t}.received`, 0);
      this.#c.set(`packets.${t}.sent`, 0);
    }
    for (const k of ["received", "sent"]) {
      this.#c.set(`messages.${k}`, 0);
      for (const q of [0, 1, 2]) this.#c.set(`messages.qos${q}.${k}`, 0);
    }
    for (const name of COUNTERS) this.#c.set(name, 0);
  }

  add(name: string, n = 1): void {
    this.#c.set(name, (this.#c.get(name) ?? 0) + n);
  }

  /** A packet read from a client (bytes are counted per chunk by bytesIn). */
  packetIn(cmd: string, qos: number): void {
    this.add("packets.received");
    this.add(RECEIVED.get(cmd) ?? "packets.unknown.received");
    if (cmd === "publish") {
      this.add("messages.received");
      this.add(QOS_RECEIVED[qos] ?? "messages.qos0.received");
    }
  }

  /** A packet written to a client. */
  packetOut(cmd: string, qos: number, bytes: number): void {
    this.add("packets.sent");
    this.add(SENT.get(cmd) ?? "packets.unknown.sent");
    this.add("bytes.sent", bytes);
    if (cmd === "publish") {
      this.add("messages.sent");
      this.add(QOS_SENT[qos] ?? "messages.qos0.sent");
    }
  }

  snapshot(): MetricSnapshot {
    return Object.fromEntries(this.#c);
  }
}

/** Sums snapshots of several shards. */
export function mergeSnapshots(snapshots: Iterable<MetricSnapshot>): MetricSnapshot {
  const out: MetricSnapshot = {};
  for (const s of snapshots) {
    for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
