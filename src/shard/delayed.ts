/**
 * DelayedPublish: messages published to $delayed/{seconds}/{topic} (EMQX) or $delay/... (older
 * EMQ X docs), held on the publisher's shard until due and then published to {topic} (the
 * `message.publish` callback in publish_rules.ts hands them over). A binary
 * min-heap by due time and one timer armed for the earliest; bounded by a broker-wide count
 * (SharedCounts, so the bound holds whatever shard a publisher lands on). A held message keeps a
 * copy of just its payload when that was a view into a larger buffer (see _keep.ts).
 *
 * With a store (`retainer.backend.storage_type: disc` or durable sessions) every scheduled
 * message is also a row of the store's `delayed` table, written in the shard's pass commit (the
 * PUBACK of the `$delayed` publish follows that commit: handlers/publish.ts), keyed in one of
 * this shard's partitions; load() puts the rows of this shard's partitions back in the heap at
 * start, and a message that fires deletes its row in the commit of the pass that published it.
 * A message due while the broker was down fires once right after the start.
 */

import type { DelayedConfig } from "../config/types.ts";
import { CountKind, type SharedCounts } from "../ipc/mod.ts";
import { partitionOf } from "../ipc/mod.ts";
import {
  decodeMessage,
  type Message,
  MqttError,
  ReasonCode,
  validateTopicName,
} from "../mqtt/mod.ts";
import type { ShardStore } from "./durable.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { keepMessage } from "./_keep.ts";

interface Pending {
  readonly due: number;
  readonly seq: number;
  /** The store row's key; 0 without a store. */
  readonly id: number;
  readonly message: Message;
}

/** Where a shard keeps its delayed messages across restarts. */
export interface DelayedStore {
  readonly store: ShardStore;
  /** This shard's partitions [first, end): new rows are keyed in one of them. */
  readonly partitions: readonly [number, number];
}

/** Splits a delayed topic: null when `topic` is not one; throws MqttError 0x90 when malformed. */
export function parseDelayedTopic(
  topic: string,
  maxLevels: number,
): { delayMs: number; topic: string } | null {
  const m = /^\$(?:delayed|delay)\/([^/]*)\/?(.*)$/s.exec(topic);
  if (!m || !(topic.startsWith("$delayed/") || topic.startsWith("$delay/"))) return null;
  const [, seconds = "", rest = ""] = m;
  if (!/^\d{1,10}$/.test(seconds)) {
    throw new MqttError(ReasonCode.TopicNameInvalid, `Cannot delay "${topic}": bad interval`);
  }
  if (rest === "") {
    throw new MqttError(ReasonCode.TopicNameInvalid, `Cannot delay "${topic}": no topic`);
  }
  validateTopicName(rest, maxLevels);
  return { delayMs: Number(seconds) * 1000, topic: rest };
}

/** One shard's pending delayed messages. */
export class DelayedPublish {
  #heap: Pending[] = [];
  #seq = 0;
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  readonly #max: number;
  readonly #maxDelay: number;
  readonly #publish: (m: Message) => void;

  readonly #counts: SharedCounts;
  readonly #clock: Clock;
  readonly #store: DelayedStore | null;

  constructor(
    config: DelayedConfig,
    counts: SharedCounts,
    clock: Clock,
    publish: (m: Message) => void,
    store: DelayedStore | null = null,
  ) {
    this.#clock = clock;
    this.#store = store;
    this.#max = config.maxDelayedMessages;
    this.#maxDelay = config.maxDelayInterval;
    this.#counts = counts;
    this.#publish = publish;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Holds `message` for `delayMs`; throws MqttError when over a bound. */
  schedule(message: Message, delayMs: number, now: number): void {
    if (delayMs > this.#maxDelay) {
      throw new MqttError(ReasonCode.TopicNameInvalid, `Delay ${delayMs / 1000}s is over the max`);
    }
    if (this.#max > 0 && this.#counts.total(CountKind.Delayed) >= this.#max) {
      throw new MqttError(ReasonCode.QuotaExceeded, "Too many delayed messages");
    }
    const due = now + delayMs;
    const id = this.#store ? this.#newKey(message.origin) : 0;
    if (this.#store) this.#store.store.batch.delay(id, due, message);
    this.#push({ due, seq: this.#seq++, id, message: keepMessage(message) });
    this.#counts.add(CountKind.Delayed, 1);
    this.#arm(now);
  }

  /**
   * Puts the store's rows of this shard's partitions in the heap (call once, before the shard
   * takes clients). Returns how many were loaded.
   */
  async load(): Promise<number> {
    const store = this.#store;
    if (!store) return 0;
    const [first, end] = store.partitions;
    const partitions = Array.from({ length: end - first }, (_, i) => first + i);
    const [next, rows] = await Promise.all([
      store.store.client.readAsync({ kind: "nextKeys", partitions }),
      store.store.client.readAsync({ kind: "delayed", partitions }),
    ]);
    // The shard's key counters (shared with session ids); Shard.load() set them already.
    store.store.setKeys(next);
    for (const row of rows) {
      this.#push({
        due: row.dueAt,
        seq: this.#seq++,
        id: row.id,
        message: decodeMessage(row.body),
      });
    }
    this.#counts.add(CountKind.Delayed, rows.length);
    this.#arm(this.#clock.now());
    return rows.length;
  }

  /** Publishes everything due, then re-arms for the next. */
  runDue(now: number): void {
    while (this.#heap.length > 0 && (this.#heap[0] as Pending).due <= now) {
      const p = this.#pop() as Pending;
      this.#counts.add(CountKind.Delayed, -1);
      if (p.id !== 0) this.#store?.store.batch.delayDelete(p.id);
      this.#publish({ ...p.message, timestamp: now });
    }
    this.#arm(now);
  }

  stop(): void {
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** A key in the publisher's partition when this shard owns it, else in this shard's first. */
  #newKey(origin: string): number {
    const [first, end] = this.#store!.partitions;
    const own = partitionOf(origin);
    const p = own >= first && own < end ? own : first;
    return this.#store!.store.newKey(p);
  }

  #arm(now: number): void {
    const next = this.#heap[0];
    if (!next) return;
    if (this.#timer !== undefined && this.#timerDue <= next.due) return;
    this.#clock.clearTimer(this.#timer);
    this.#timerDue = next.due;
    this.#timer = this.#clock.setTimer(next.due - now, () => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      this.runDue(this.#clock.now());
    });
  }

  #less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #push(p: Pending): void {
    const h = this.#heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i] as Pending, h[parent] as Pending)) break;
      [h[i], h[parent]] = [h[parent] as Pending, h[i] as Pending];
      i = parent;
    }
  }

  #pop(): Pending | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as Pending, h[m] as Pending)) m = l;
      if (r < h.length && this.#less(h[r] as Pending, h[m] as Pending)) m = r;
      if (m === i) return top;
      [h[i], h[m]] = [h[m] as Pending, h[i] as Pending];
      i = m;
    }
  }
}
