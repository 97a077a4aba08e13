/**
 * Broker: the message paths of one shard. `publish` stores retained messages at their owner
 * shard, asks the RouteTable which shards have subscribers and sends each remote shard one
 * routed-publish record, and picks one member per matching shared group; `dispatch` delivers to
 * this shard's subscribers only and never routes again. The only code that uses RouteTable,
 * SubscriptionIndex and SharedSubs together.
 */

import {
  decodeNodeMember,
  decodeNodeRoute,
  decodeRemoteShared,
  FieldReader,
  FieldWriter,
  RecordKind,
  shardOf,
} from "../ipc/mod.ts";
import {
  decodeMessage,
  encodeMessage,
  encodeMessageParts,
  hasWildcard,
  matches,
  type Message,
  parseShared,
  ReasonCode,
} from "../mqtt/mod.ts";
import type { Clock } from "./clock.ts";
import type { Hooks, PublishSource } from "./hooks.ts";
import type { Metrics } from "./metrics.ts";
import type { Delivery } from "./delivery.ts";
import { RouteTable, ShardMatch } from "./route_table.ts";
import type { Retainer } from "./retainer.ts";
import type { DiscRetained } from "./retained_disc.ts";
import type { Session, SubOptions } from "./session.ts";
import { type SharedMember, SharedSubs } from "./shared_subs.ts";
import { SubscriptionIndex } from "./subscription_index.ts";
import type { NodeRouting } from "./node_routing.ts";
import type { ShardStore } from "./durable.ts";
import {
  decodeMembership,
  decodeSharedDelivery,
  encodeFilter,
  encodeMembership,
  encodeSharedDelivery,
} from "./_records.ts";

/** How the Broker reaches other shards and the sessions of its own. */
export interface BrokerPort {
  readonly index: number;
  readonly count: number;
  readonly clock: Clock;
  readonly hooks: Hooks;
  readonly metrics: Metrics;
  /** A retained message was not stored: the store is full or the payload over its bound. */
  onRetainRefused(why: "refused" | "too_large"): void;
  sendToShard(shard: number, kind: number, payload: Uint8Array | readonly Uint8Array[]): void;
  /** Commits queued peer records now (route before SUBACK). */
  flushPeers(): void;
  /**
   * Null when every peer record written so far is in its ring; otherwise resolves when the
   * records parked in congested peer rings so far are (RingWriter.whenCommitted).
   */
  whenPeersCommitted(): Promise<void> | null;
  session(clientId: string): Session | undefined;
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

/** A new subscription's retained lookup, from the SUBSCRIBE until its last answer or page. */
interface RetainedQuery {
  readonly clientId: string;
  readonly filter: string;
  readonly opts: SubOptions;
  remaining: number;
  /**
   * Topics of retained publishes this shard dispatched while the lookup was open. The owner
   * answers after draining its rings ("answer queries last"), so its answer can hold a store
   * that was published after the SUBSCRIBE and already delivered live: such a topic's answer
   * row is that copy or an older one, and is skipped.
   */
  live: Set<string> | null;
}

/** The subscription identifiers of a subscription without one. */
const NO_IDS: readonly number[] = Object.freeze([]);

/** Disc retained messages delivered between two looks at the subscriber's backlog. */
const RETAINED_CHUNK = 100;

/** A SharedDeliver that finds its member gone is passed on at most this often. */
const MAX_SHARED_HOPS = 3;

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
  readonly #queries = new Map<number, RetainedQuery>();
  /** Every open lookup: memory ones (also in #queries) and disc ones. */
  readonly #openLookups = new Set<RetainedQuery>();
  /** Retained queries from peers read in this pass, answered by answerQueries(). */
  #pendingQueries: { from: number; id: number; filter: string }[] = [];
  #nextQueryId = 1;
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
      if (this.disc) {
        if (this.disc.store(message) && message.payload.byteLength > 0) {
          this.#port.metrics.add("messages.retained");
        }
      } else this.#storeRetained(message);
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
        this.#sendShared(
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
    switch (kind) {
      case RecordKind.NodeRoute: {
        const r = decodeNodeRoute(payload);
        for (const f of r.filters) this.#opts.nodes.remoteRoute(r.add, r.node, f);
        return true;
      }
      case RecordKind.NodeMember: {
        const { add, node, m } = decodeNodeMember(payload);
        if (add) {
          const member = { clientId: m.clientId, shard: -1, subscription: m.subscription, node };
          this.shared.join(m.group, m.filter, member);
        } else this.shared.leave(m.group, m.filter, m.clientId, node);
        return true;
      }
      case RecordKind.NodeReset: {
        const node = new FieldReader(payload).str();
        this.#opts.nodes.resetNode(node);
        this.shared.removeNode(node);
        return true;
      }
      case RecordKind.RemotePublish:
        this.dispatchRemote(decodeMessage(payload));
        return true;
      case RecordKind.RemoteShared: {
        const d = decodeRemoteShared(payload);
        this.#deliverShared(d.clientId, d.subscription, decodeMessage(d.message), d.hops);
        return true;
      }
      case RecordKind.RemoteRetain: {
        // Last writer wins by the time it was published: a full set sent on link up may
        // arrive after a newer write of the same topic.
        const m = decodeMessage(payload);
        if (this.disc) {
          this.disc.storeIfNewer(m);
          return true;
        }
        const held = this.retainer.get(m.topic, this.#port.clock.now());
        if (!held || held.timestamp <= m.timestamp) this.#retain(m);
        return true;
      }
      case RecordKind.TakeoverAnswer: {
        const r = new FieldReader(payload);
        this.#opts.nodes.answer(r.u32(), r.str(), r.str());
        return true;
      }
      case RecordKind.RouteSyncAnswer:
        this.#opts.nodes.answer(new FieldReader(payload).u32(), "", "");
        return true;
      default:
        return false;
    }
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
    if (message.retain && this.#openLookups.size > 0) this.#noteLive(message.topic);
  }

  #noteLive(topic: string): void {
    for (const q of this.#openLookups) {
      if (matches(q.filter, topic)) (q.live ??= new Set()).add(topic);
    }
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
    const groupOf = (d: Delivery) => {
      const s = d.shared === undefined ? null : parseShared(d.shared);
      return s ? this.shared.get(s.group, s.filter) : undefined;
    };
    const others = (d: Delivery) =>
      groupOf(d)?.members.some((m) => m.clientId !== session.clientId) ?? false;
    for (const d of session.takeShared(others, this.#port.clock.now())) {
      const g = groupOf(d);
      const member = g ? this.shared.pick(g, d.message, session.clientId) : null;
      if (member) this.#sendShared(member, d.message, 0);
    }
  }

  /**
   * Sends the retained messages matching a new subscription: an exact filter asks the one
   * owner shard, a wildcard asks every shard. Answers arrive as RetainAnswer records. With a
   * disc retainer the store file is read instead, page by page.
   */
  requestRetained(clientId: string, filter: string, opts: SubOptions): void {
    if (!this.#opts.retainEnabled) return;
    if (this.disc) {
      const q: RetainedQuery = { clientId, filter, opts, remaining: 1, live: null };
      this.#openLookups.add(q);
      this.disc.lookup(
        filter,
        (page, more) => this.#deliverPaced(q, page, 0, more),
        () => this.#openLookups.delete(q),
      );
      return;
    }
    const targets = hasWildcard(filter)
      ? [...Array(this.#port.count).keys()]
      : [shardOf(filter, this.#port.count)];
    const id = this.#nextQueryId++;
    const q: RetainedQuery = { clientId, filter, opts, remaining: targets.length, live: null };
    this.#queries.set(id, q);
    this.#openLookups.add(q);
    for (const shard of targets) {
      if (shard === this.#port.index) {
        this.#deliverRetained(id, this.retainer.query(filter, this.#port.clock.now()));
      } else {
        this.#port.sendToShard(
          shard,
          RecordKind.RetainQuery,
          new FieldWriter().u32(id).str(filter).finish(),
        );
      }
    }
  }

  /** Applies one record from a peer shard. Returns false for kinds it does not own. */
  applyPeerRecord(from: number, kind: number, payload: Uint8Array): boolean {
    switch (kind) {
      case RecordKind.RoutedPublish:
        this.dispatch(decodeMessage(payload));
        return true;
      case RecordKind.RoutedPublishToken:
        this.#underToken(payload, (rest) => this.dispatch(decodeMessage(rest)));
        return true;
      case RecordKind.RouteAdd:
        this.routes.add(new FieldReader(payload).str(), from);
        return true;
      case RecordKind.RouteRemove:
        this.routes.remove(new FieldReader(payload).str(), from);
        return true;
      case RecordKind.SharedJoin: {
        const m = decodeMembership(payload);
        this.shared.join(m.group, m.filter, {
          clientId: m.clientId,
          shard: from,
          subscription: m.subscription,
        });
        return true;
      }
      case RecordKind.SharedLeave: {
        const m = decodeMembership(payload);
        this.shared.leave(m.group, m.filter, m.clientId);
        return true;
      }
      case RecordKind.SharedDeliver: {
        const d = decodeSharedDelivery(payload);
        this.#deliverShared(d.clientId, d.subscription, decodeMessage(d.message), d.hops);
        return true;
      }
      case RecordKind.SharedDeliverToken:
        // The member's queue or inflight row is this shard's part of the token. A member that
        // left meanwhile passes the message on outside it (the part is then empty): the
        // publisher's PUBACK does not wait for that hop.
        this.#underToken(payload, (rest) => {
          const d = decodeSharedDelivery(rest);
          this.#deliverShared(d.clientId, d.subscription, decodeMessage(d.message), d.hops);
        });
        return true;
      case RecordKind.RetainStore:
        this.#retain(decodeMessage(payload));
        return true;
      case RecordKind.RetainQuery: {
        // Answered by answerQueries() once every peer ring of this pass is drained: a store
        // committed on another ring before the query was sent is applied first (DESIGN.md,
        // "answer queries last").
        const r = new FieldReader(payload);
        this.#pendingQueries.push({ from, id: r.u32(), filter: r.str() });
        return true;
      }
      case RecordKind.RetainAnswer: {
        const r = new FieldReader(payload);
        const id = r.u32();
        const n = r.u32();
        const found: Message[] = [];
        for (let i = 0; i < n; i++) found.push(decodeMessage(r.bytes()));
        this.#deliverRetained(id, found);
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * Answers the retained queries read in this pass (the shard calls it after draining every peer
   * ring, before the client records).
   */
  answerQueries(): void {
    if (this.#pendingQueries.length === 0) return;
    const queries = this.#pendingQueries;
    this.#pendingQueries = [];
    const now = this.#port.clock.now();
    for (const q of queries) {
      const found = this.retainer.query(q.filter, now);
      const w = new FieldWriter().u32(q.id).u32(found.length);
      for (const m of found) w.bytes(encodeMessage(m));
      this.#port.sendToShard(q.from, RecordKind.RetainAnswer, w.finish());
    }
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

  /**
   * Durable mode: runs `apply` on what follows a record's commit token (str key, u32 parts), with
   * this shard's store ops in that token's part.
   */
  #underToken(payload: Uint8Array, apply: (rest: Uint8Array) => void): void {
    const r = new FieldReader(payload);
    const token = { key: r.str(), parts: r.u32() };
    const store = this.#port.store;
    store?.beginToken(token);
    try {
      apply(payload.subarray(r.offset));
    } finally {
      store?.endToken(); // an open token holds every flush of this shard
    }
  }

  /**
   * Sends one shared member its message: delivered here, or a SharedDeliver to its shard (with
   * `tokenHeader`, the publish's commit token, as SharedDeliverToken), or to its node.
   */
  #sendShared(
    member: SharedMember,
    message: Message,
    hops: number,
    tokenHeader: Uint8Array | null = null,
  ): void {
    if (member.node !== undefined) {
      this.#opts.nodes.shared(member.node, member.clientId, member.subscription, hops, message);
      return;
    }
    if (member.shard === this.#port.index) {
      this.#deliverShared(member.clientId, member.subscription, message, hops);
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
  #deliverShared(clientId: string, subscription: string, message: Message, hops: number): void {
    const session = this.#port.session(clientId);
    const opts = session?.subscriptions.get(subscription);
    if (!session || !opts) {
      const s = parseShared(subscription);
      const g = s ? this.shared.get(s.group, s.filter) : undefined;
      const next = g && hops < MAX_SHARED_HOPS ? this.shared.pick(g, message, clientId) : null;
      if (next) this.#sendShared(next, message, hops + 1);
      else {
        // Every member left before the message reached one: nobody gets it (EMQX counts it so).
        this.#port.metrics.add("messages.dropped");
        this.dropped(message, "no_shared_member");
      }
      return;
    }
    session.deliver({
      message,
      qos: this.#grantedQos(opts.qos, message.qos),
      retain: opts.retainAsPublished ? message.retain : false,
      subscriptionIds: opts.subscriptionId > 0 ? [opts.subscriptionId] : [],
      shared: subscription,
    }, this.#port.clock.now());
    this.#port.metrics.add("messages.delivered");
  }

  #storeRetained(message: Message): void {
    const owner = shardOf(message.topic, this.#port.count);
    if (owner === this.#port.index) this.#retain(message);
    else this.#port.sendToShard(owner, RecordKind.RetainStore, encodeMessageParts(message));
  }

  #retain(message: Message): void {
    const result = this.retainer.store(message);
    if (result === "stored") this.#port.metrics.add("messages.retained");
    else if (result === "refused" || result === "too_large") this.#port.onRetainRefused(result);
  }

  #deliverRetained(id: number, found: Message[]): void {
    const q = this.#queries.get(id);
    if (!q) return;
    if (--q.remaining <= 0) {
      this.#queries.delete(id);
      this.#openLookups.delete(q);
    }
    this.#deliverRetainedTo(q, found);
  }

  /**
   * Delivers a page of disc retained messages from `from` on, pausing while the subscriber is
   * backlogged (Session.whenUnblocked), then asks for the next page; stops when the
   * subscription is gone or replaced.
   */
  #deliverPaced(q: RetainedQuery, page: Message[], from: number, more: (go: boolean) => void) {
    for (let i = from; i < page.length; i += RETAINED_CHUNK) {
      const session = this.#port.session(q.clientId);
      if (!session || session.subscriptions.get(q.filter) !== q.opts) return more(false);
      if (session.backlogged) {
        session.whenUnblocked(() => this.#deliverPaced(q, page, i, more));
        return;
      }
      this.#deliverRetainedTo(q, page.slice(i, i + RETAINED_CHUNK));
    }
    more(true);
  }

  /** Delivers retained messages to a subscription; false when it is gone or replaced. */
  #deliverRetainedTo(q: RetainedQuery, found: Message[]) {
    const { opts, live } = q;
    const session = this.#port.session(q.clientId);
    // The subscription may be gone or replaced by the time the answer arrives.
    if (!session || session.subscriptions.get(q.filter) !== opts) return false;
    const now = this.#port.clock.now();
    // One list for the whole page: deliveries never change it.
    const subscriptionIds = opts.subscriptionId > 0 ? [opts.subscriptionId] : NO_IDS;
    for (const message of found) {
      if (live?.has(message.topic)) continue; // delivered live since the SUBSCRIBE
      session.deliver({
        message,
        qos: this.#grantedQos(opts.qos, message.qos),
        retain: true, // [MQTT-3.3.1-8]
        subscriptionIds,
      }, now);
    }
    return true;
  }

  /** Sends a record to every other shard and commits it before anything else is answered. */
  #broadcast(kind: number, payload: Uint8Array): void {
    for (let shard = 0; shard < this.#port.count; shard++) {
      if (shard !== this.#port.index) this.#port.sendToShard(shard, kind, payload);
    }
    this.#port.flushPeers();
  }
}
