/**
 * SharedDelivery: how one shard's Broker gets a message to the picked member of a shared group:
 * delivered here, sent to the member's shard (SharedDeliver) or node, passed on to another member
 * when the picked one left meanwhile, and a leaving member's unacknowledged QoS 1/2 messages sent
 * to the rest of its group. Private to src/shard/; owns no state. SharedSubs holds the groups;
 * sessions are reached through SharedPort.
 */

import { RecordKind } from "../ipc/mod.ts";
import { encodeMessage, type Message, parseShared } from "../mqtt/mod.ts";
import type { Clock } from "./clock.ts";
import type { Delivery } from "./delivery.ts";
import type { Metrics } from "./metrics.ts";
import type { NodeRouting } from "./node_routing.ts";
import type { Session } from "./session.ts";
import type { SharedMember, SharedSubs } from "./shared_subs.ts";
import { encodeSharedDelivery } from "./_records.ts";

/** A SharedDeliver that finds its member gone is passed on at most this often. */
const MAX_SHARED_HOPS = 3;

/** What shared delivery reaches through its Broker's port. */
export interface SharedPort {
  readonly index: number;
  readonly clock: Clock;
  readonly metrics: Metrics;
  sendToShard(shard: number, kind: number, payload: Uint8Array | readonly Uint8Array[]): void;
  session(clientId: string): Session | undefined;
}

/** The Broker's parts shared delivery works with. */
export interface SharedDeliveryParts {
  readonly shared: SharedSubs;
  readonly nodes: NodeRouting;
  /** The Broker's QoS rule (upgrade_qos). */
  grantedQos(subQos: 0 | 1 | 2, msgQos: 0 | 1 | 2): 0 | 1 | 2;
  /** A delivery was dropped: the `message.dropped` hook. */
  dropped(message: Message, reason: string): void;
}

/** See the file header. */
export class SharedDelivery {
  readonly #port: SharedPort;
  readonly #parts: SharedDeliveryParts;

  constructor(port: SharedPort, parts: SharedDeliveryParts) {
    this.#port = port;
    this.#parts = parts;
  }

  /** See Broker.redispatchShared. */
  redispatch(session: Session): void {
    const shared = this.#parts.shared;
    const groupOf = (d: Delivery) => {
      const s = d.shared === undefined ? null : parseShared(d.shared);
      return s ? shared.get(s.group, s.filter) : undefined;
    };
    const others = (d: Delivery) =>
      groupOf(d)?.members.some((m) => m.clientId !== session.clientId) ?? false;
    for (const d of session.takeShared(others, this.#port.clock.now())) {
      const g = groupOf(d);
      const member = g ? shared.pick(g, d.message, session.clientId) : null;
      if (member) this.send(member, d.message, 0);
    }
  }

  /**
   * Sends one shared member its message: delivered here, or a SharedDeliver to its shard (with
   * `tokenHeader`, the publish's commit token, as SharedDeliverToken), or to its node.
   */
  send(
    member: SharedMember,
    message: Message,
    hops: number,
    tokenHeader: Uint8Array | null = null,
  ): void {
    if (member.node !== undefined) {
      this.#parts.nodes.shared(member.node, member.clientId, member.subscription, hops, message);
      return;
    }
    if (member.shard === this.#port.index) {
      this.deliver(member.clientId, member.subscription, message, hops);
      return;
    }
    const payload = encodeSharedDelivery({
      clientId: member.clientId,
      subscription: member.subscription,
      hops,
      message: encodeMessage(message),
    });
    if (tokenHeader) {
      this.#port.sendToShard(member.shard, RecordKind.SharedDeliverToken, [tokenHeader, payload]);
    } else this.#port.sendToShard(member.shard, RecordKind.SharedDeliver, payload);
  }

  /** Delivers to the picked member; one that left meanwhile passes the message on. */
  deliver(clientId: string, subscription: string, message: Message, hops: number): void {
    const session = this.#port.session(clientId);
    const opts = session?.subscriptions.get(subscription);
    if (!session || !opts) {
      const s = parseShared(subscription);
      const shared = this.#parts.shared;
      const g = s ? shared.get(s.group, s.filter) : undefined;
      const next = g && hops < MAX_SHARED_HOPS ? shared.pick(g, message, clientId) : null;
      if (next) this.send(next, message, hops + 1);
      else {
        // Every member left before the message reached one: nobody gets it (EMQX counts it so).
        this.#port.metrics.add("messages.dropped");
        this.#parts.dropped(message, "no_shared_member");
      }
      return;
    }
    session.deliver({
      message,
      qos: this.#parts.grantedQos(opts.qos, message.qos),
      retain: opts.retainAsPublished ? message.retain : false,
      subscriptionIds: opts.subscriptionId > 0 ? [opts.subscriptionId] : [],
      shared: subscription,
    }, this.#port.clock.now());
    this.#port.metrics.add("messages.delivered");
  }
}
