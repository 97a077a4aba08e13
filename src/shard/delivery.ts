/**
 * Delivery: what one subscriber gets of one Message — the message by reference plus the few
 * per-subscriber fields (granted QoS, retain flag as delivered, subscription identifiers).
 * Pure data shared by Session, Inflight and MQueue; the Message itself is never copied.
 */

import type { Message } from "../mqtt/message.ts";

/** One message on its way to one subscriber. */
export interface Delivery {
  readonly message: Message;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** MQTT 5 subscription identifiers of the matching subscriptions [MQTT-3.3.4-3]. */
  readonly subscriptionIds: readonly number[];
  /** Set when it came through a shared subscription: that subscription ("$share/g/f"). */
  readonly shared?: string;
}

/** Bytes a delivery is counted as in queue bounds: payload and topic dominate. */
export function deliverySize(d: Delivery): number {
  return d.message.payload.byteLength + d.message.topic.length;
}
