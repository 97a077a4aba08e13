/**
 * Broker: the message paths of one shard. `publish` stores retained messages at their owner
 * shard, asks the RouteTable which shards have subscribers and sends each remote shard one
 * routed-publish record, and picks one member per matching shared group; `dispatch` delivers to
 * this shard's subscribers only and never routes again. The only code that uses RouteTable,
 * SubscriptionIndex and SharedSubs together. Its parts, private to src/shard/: the retained side
 * (_broker_retained.ts), delivery to shared members (_shared_delivery.ts) and the records it
 * receives (_broker_records.ts).
 */

import { FieldWriter, RecordKind } from "../ipc/mod.ts";
import { encodeMessageParts, type Message, parseShared, ReasonCode } from "../mqtt/mod.ts";
import type { Hooks, PublishSource } from "./hooks.ts";
import { RouteTable, ShardMatch } from "./route_table.ts";
import type { Retainer } from "./retainer.ts";
import type { DiscRetained } from "./retained_disc.ts";
import type { Session, SubOptions } from "./session.ts";
import { type SharedMember, SharedSubs } from "./shared_subs.ts";
import { SubscriptionIndex } from "./subscription_index.ts";
import type { NodeRouting } from "./node_routing.ts";
import type { ShardStore } from "./durable.ts";
import { encodeFilter, encodeMembership } from "./_records.ts";
import { BrokerRetained, type RetainedPort } from "./_broker_retained.ts";
import { SharedDelivery } from "./_shared_delivery.ts";
import { applyClusterRecord, applyPeerRecord, type BrokerRecordTarget } from "./_broker_records.ts";

/**
 * How the Broker reaches other shards and the sessions of its own (what its retained side and
 * shared delivery use too: RetainedPort, SharedPort).
 */
export interface BrokerPort extends RetainedPort {
  readonly hooks: Hooks;
  /** Commits queued peer records now (route before SUBACK). */
  flushPeers(): void;
  /**
   * Null when every peer record written so far is in its ring; otherwise resolves when the
   * records parked in congested peer rings so far are (RingWriter.whenCommitted).
   */
  whenPeersCommitted(): Promise<void> | null;
  /** The shard's store end (durable mode or a disc retainer); null when nothing is stored. */
  readonly store?: ShardStore | null;
}

/** What the Broker takes from the config. */
export interface BrokerOptions {
  readonly retainer: Retainer;
  /** Retained messages in the store file (`storage_type: disc`) instead of `retainer`. */
  readonly disc?: DiscRetained | null;
  readonly shared: SharedSubs;
  readonly retainEnabled: boolean;
  /** Deliver at the subscription's QoS even when published lower (EMQX upgrade_qos). */
  readonly upgradeQos: boolean;
  /** The other nodes of the cluster (disabled when the node is alone). */
  readonly nodes: NodeRouting;
}

/** One shard's broker; see the file header. */
export class Broker {
  readonly index = new SubscriptionIndex();
  readonly routes = new RouteTable();
  readonly retainer: Retainer;
  /** Set with `retainer.backend.storage_type: disc`: `retainer` then stays empty. */
  readonly disc: DiscRetained | null;
  readonly shared: SharedSubs;
  readonly #port: BrokerPort;
  readonly #opts: BrokerOptions;
  readonly #retained: BrokerRetained;
  readonly #sharedDelivery: SharedDelivery;
  readonly #records: BrokerRecordTarget;
  readonly #shardSet: ShardMatch;

  /** The other nodes of the cluster. */
  get nodes(): NodeRouting {
    return this.#opts.nodes;
  }

  constructor(port: BrokerPort, opts: BrokerOptions) {
    this.#port = port;
    this.#opts = opts;
    this.#shardSet = new ShardMatch(port.count);
    this.retainer = opts.retainer;
    this.disc = opts.disc ?? null;
    this.shared = opts.shared;
    const grantedQos = (subQos: 0 | 1 | 2, msgQos: 0 | 1 | 2) => this.#grantedQos(subQos, msgQos);
    this.#retained = new BrokerRetained(
      port,
      { retainer: this.retainer, disc: this.disc },
      grantedQos,
    );
    this.#sharedDelivery = new SharedDelivery(port, {
      shared: this.shared,
      nodes: opts.nodes,
      grantedQos,
      dropped: (message, reason) => this.dropped(message, reason),
    });
    this.#records = {
      routes: this.routes,
      shared: this.shared,
      nodes: opts.nodes,
      retained: this.#retained,
      sharedDelivery: this.#sharedDelivery,
      store: () => port.store,
      dispatch: (message) => this.dispatch(message),
      dispatchRemote: (message) => this.dispatchRemote(message),
    };
  }

  /**
   * Publishes a message from any source: a client of this shard, a will, a delayed message,
   * $SYS, the API. It passes the `message.publish` hook first, which may rewrite it or stop it
   * with a reason. Returns the reason code to acknowledge with: 0x00, 0x10 when no subscriber
   * anywhere matched (MQTT 5 "no matching subscribers"), or the code of the callback that
   * stopped it.
   */
  publish(original: Message, source: PublishSource): number {
    const message = this.#port.hooks.publish(original, source);
    if ("reasonCode" in message) return message.reasonCode;
    // $SYS is each node's own: neither forwarded nor replicated (docs/cluster.md).
    const clustered = this.#opts.nodes.enabled && !message.topic.startsWith("$SYS/");
    if (message.retain && this.#opts.retainEnabled) {
      this.#retained.store(message);
      if (clustered) this.#opts.nodes.retain(message);
    }
    const shards = this.routes.matchShards(message.topic, this.#shardSet);
    let matched = shards.size > 0;
    let encoded: Uint8Array[] | null = null;
    // Shared members are picked before the token is made: those on other shards are parts too.
    let picked = null as SharedMember[] | null; // allocated only when a group matches
    let sharedElsewhere = 0;
    this.shared.match(message.topic, (g) => {
      matched = true;
      const member = this.shared.pick(g, message);
      if (!member) return;
      (picked ??= []).push(member);
      if (member.node === undefined && member.shard !== this.#port.index) sharedElsewhere++;
    });
    // Durable mode, inside a client's QoS 1/2 publish (the handler opened its token): every
    // destination shard commits its part with this one (docs/store.md, commit tokens).
    const token = this.#port.store?.joinShards(
      shards.size - (shards.has(this.#port.index) ? 1 : 0) + sharedElsewhere,
    );
    let tokenHeader: Uint8Array | null = null;
    for (let k = 0; k < shards.size; k++) {
      const shard = shards.at(k);
      if (shard === this.#port.index) continue;
      encoded ??= encodeMessageParts(message); // once, whatever the number of shards
      if (token) {
        tokenHeader ??= new FieldWriter().str(token.key).u32(token.parts).finish();
        this.#port.sendToShard(shard, RecordKind.RoutedPublishToken, [tokenHeader, ...encoded]);
      } else this.#port.sendToShard(shard, RecordKind.RoutedPublish, encoded);
    }
    const local = shards.has(this.#port.index);
    if (clustered && this.#opts.nodes.forward(message, encoded)) matched = true;
    if (local) this.dispatch(message);
    if (picked) {
      for (const member of picked) {
        this.#sharedDelivery.send(
          member,
          message,
          0,
          token && member.node === undefined
            ? (tokenHeader ??= new FieldWriter().str(token.key).u32(token.parts).finish())
            : null,
        );
      }
    }
    return matched ? ReasonCode.Success : ReasonCode.NoMatchingSubscribers;
  }

  /**
   * A message forwarded by another node: to this shard's subscribers only (the supervisor sent
   * it to every shard of this node with a match). It is not stored as retained (Retain frames
   * replicate that), not forwarded and no shared member is picked (the publishing node picked
   * one cluster-wide): EMQX's dispatch.
   */
  dispatchRemote(message: Message): void {
    this.dispatch(message);
  }

  /** Applies one cluster record from the supervisor; false for kinds it does not own. */
  applyClusterRecord(kind: number, payload: Uint8Array): boolean {
    return applyClusterRecord(this.#records, kind, payload);
  }

  /** A delivery of `message` to one subscriber was dropped (the session says why). */
  dropped(message: Message, reason: string): void {
    this.#port.hooks.run("message.dropped", message, reason);
  }

  /**
   * Null when the route and membership records this shard broadcast are all in their rings;
   * otherwise resolves once they are (the SUBACK waits for it: route before SUBACK).
   */
  routesCommitted(): Promise<void> | null {
    return this.#port.whenPeersCommitted();
  }

  /** Delivers to this shard's subscribers [MQTT-3.3.4]; retain flag per [MQTT-3.3.1-9/-12]. */
  dispatch(message: Message): void {
    const now = this.#port.clock.now();
    for (const [clientId, sub] of this.index.match(message.topic, message.origin)) {
      const session = this.#port.session(clientId);
      if (!session) continue;
      session.deliver({
        message,
        qos: this.#grantedQos(sub.qos, message.qos),
        retain: sub.retainAsPublished ? message.retain : false,
        subscriptionIds: sub.subscriptionIds,
      }, now);
      this.#port.metrics.add("messages.delivered");
    }
    if (message.retain) this.#retained.dispatched(message.topic);
  }

  /** Adds a subscription; a filter's first subscriber on this shard is announced to all. */
  subscribe(session: Session, filter: string, opts: SubOptions): void {
    const isNew = !session.subscriptions.has(filter);
    session.setSubscription(filter, opts);
    const shared = parseShared(filter);
    if (shared) {
      if (!isNew) return;
      const m = { ...shared, clientId: session.clientId, subscription: filter };
      this.shared.join(shared.group, shared.filter, this.#member(m.clientId, filter));
      this.#broadcast(RecordKind.SharedJoin, encodeMembership(m));
      this.#opts.nodes.member(true, m);
      return;
    }
    if (this.index.add(filter, session.clientId, opts)) {
      this.routes.add(filter, this.#port.index);
      this.#broadcast(RecordKind.RouteAdd, encodeFilter(filter));
      this.#opts.nodes.route(true, filter);
    }
  }

  /** Removes a subscription; returns false when it did not exist. */
  unsubscribe(session: Session, filter: string): boolean {
    if (!session.deleteSubscription(filter)) return false;
    const shared = parseShared(filter);
    if (shared) {
      this.shared.leave(shared.group, shared.filter, session.clientId);
      const m = { ...shared, clientId: session.clientId, subscription: filter };
      this.#broadcast(RecordKind.SharedLeave, encodeMembership(m));
      this.#opts.nodes.member(false, m);
    } else if (this.index.remove(filter, session.clientId)) {
      this.routes.remove(filter, this.#port.index);
      this.#broadcast(RecordKind.RouteRemove, encodeFilter(filter));
      this.#opts.nodes.route(false, filter);
    }
    return true;
  }

  /** Removes every subscription of a session that is going away. */
  unsubscribeAll(session: Session): void {
    for (const filter of [...session.subscriptions.keys()]) this.unsubscribe(session, filter);
  }

  /**
   * A shared-subscription member's connection ended: its unacknowledged QoS 1/2 messages go to
   * another member of the same group, when there is one.
   */
  redispatchShared(session: Session): void {
    this.#sharedDelivery.redispatch(session);
  }

  /**
   * Sends the retained messages matching a new subscription: an exact filter asks the one
   * owner shard, a wildcard asks every shard. Answers arrive as RetainAnswer records. With a
   * disc retainer the store file is read instead, page by page.
   */
  requestRetained(clientId: string, filter: string, opts: SubOptions): void {
    if (!this.#opts.retainEnabled) return;
    this.#retained.request(clientId, filter, opts);
  }

  /** Applies one record from a peer shard. Returns false for kinds it does not own. */
  applyPeerRecord(from: number, kind: number, payload: Uint8Array): boolean {
    return applyPeerRecord(this.#records, from, kind, payload);
  }

  /**
   * Answers the retained queries read in this pass (the shard calls it after draining every peer
   * ring, before the client records).
   */
  answerQueries(): void {
    this.#retained.answerQueries();
  }

  /** A peer shard restarted with empty state: forget its routes and members, send it ours. */
  resetPeer(shard: number): void {
    this.routes.removeShard(shard);
    this.shared.removeShard(shard);
    this.#sendState(shard);
  }

  #sendState(shard: number): void {
    for (const filter of this.index.filters()) {
      this.#port.sendToShard(shard, RecordKind.RouteAdd, encodeFilter(filter));
    }
    for (const { group, filter, member } of this.shared.membersOf(this.#port.index)) {
      const m = { group, filter, clientId: member.clientId, subscription: member.subscription };
      this.#port.sendToShard(shard, RecordKind.SharedJoin, encodeMembership(m));
    }
  }

  #member(clientId: string, subscription: string): SharedMember {
    return { clientId, shard: this.#port.index, subscription };
  }

  #grantedQos(subQos: 0 | 1 | 2, msgQos: 0 | 1 | 2): 0 | 1 | 2 {
    if (this.#opts.upgradeQos) return subQos;
    return subQos < msgQos ? subQos : msgQos;
  }

  /** Sends a record to every other shard and commits it before anything else is answered. */
  #broadcast(kind: number, payload: Uint8Array): void {
    for (let shard = 0; shard < this.#port.count; shard++) {
      if (shard !== this.#port.index) this.#port.sendToShard(shard, kind, payload);
    }
    this.#port.flushPeers();
  }
}
