/**
 * MQueue: the bounded queue of deliveries a Session could not put in flight (client offline, or
 * the inflight window full). Bounded by count; the drop policy says which end loses when full.
 * QoS 0 deliveries are queued only when store_qos0 is on. A queued message may wait for hours
 * (an offline client): it keeps a copy of just its payload when that was a view into a larger
 * buffer (see _keep.ts). Pure data, owned by one Session.
 */

import type { DropPolicy } from "../config/types.ts";
import type { Delivery } from "./delivery.ts";
import { keepMessage } from "./_keep.ts";

/** `d` with its message kept (see _keep.ts); `d` itself when nothing had to be copied. */
function kept(d: Delivery): Delivery {
  const message = keepMessage(d.message);
  return message === d.message ? d : { ...d, message };
}

/** What enqueue did, so the caller can count drops. */
export type EnqueueResult =
  | { readonly queued: true; readonly dropped: null }
  | { readonly queued: boolean; readonly dropped: Delivery; readonly reason: QueueDropReason };

/** Why a delivery left the queue unsent. */
export type QueueDropReason = "queue_full" | "qos0_offline";

/** FIFO with head index instead of Array.shift, so a long queue drains in O(1) per item. */
export class MQueue {
  #items: (Delivery | undefined)[] = [];
  #head = 0;
  readonly #maxLen: number;
  readonly #dropPolicy: DropPolicy;
  readonly #storeQos0: boolean;

  constructor(opts: { maxLen: number; dropPolicy: DropPolicy; storeQos0: boolean }) {
    this.#maxLen = opts.maxLen;
    this.#dropPolicy = opts.dropPolicy;
    this.#storeQos0 = opts.storeQos0;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queues d; when full, drops the oldest or the new one as configured. */
  enqueue(d: Delivery): EnqueueResult {
    if (d.qos === 0 && !this.#storeQos0) {
      return { queued: false, dropped: d, reason: "qos0_offline" };
    }
    if (this.length >= this.#maxLen) {
      if (this.#dropPolicy === "drop_newest" || this.#maxLen <= 0) {
        return { queued: false, dropped: d, reason: "queue_full" };
      }
      const oldest = this.dequeue() as Delivery;
      this.#items.push(kept(d));
      return { queued: true, dropped: oldest, reason: "queue_full" };
    }
    this.#items.push(kept(d));
    return { queued: true, dropped: null };
  }

  /** The next delivery, left in place. */
  peek(): Delivery | undefined {
    return this.#items[this.#head];
  }

  dequeue(): Delivery | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const d = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    // Compact once the dead prefix is both large and most of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return d;
  }

  /** Takes out every queued delivery `pred` selects, keeping the others in order. */
  removeWhere(pred: (d: Delivery) => boolean): Delivery[] {
    const taken: Delivery[] = [];
    const kept: (Delivery | undefined)[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const d = this.#items[i];
      if (d === undefined) continue;
      if (pred(d)) taken.push(d);
      else kept.push(d);
    }
    this.#items = kept;
    this.#head = 0;
    return taken;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
