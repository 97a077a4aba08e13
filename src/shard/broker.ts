/**
 * Broker: the message paths of one shard. `publish` stores retained messages at their owner
 * shard, asks the RouteTable which shards have subscribers and sends each remote shard one
 * routed-publish record; `dispatch` delivers to this shard's subscribers only and never routes
 * again. It is the only code that uses RouteTable and SubscriptionIndex together.
 */

import { FieldReader, FieldWriter, RecordKind } from "../ipc/mod.ts";
import { decodeMessage, encodeMessage, type Message } from "../mqtt/mod.ts";
import type { Delivery } from "./delivery.ts";
import { RouteTable } from "./route_table.ts";
import { Retainer, type RetainResult } from "./retainer.ts";
import type { Session, SubOptions } from "./session.ts";
import { SubscriptionIndex } from "./subscription_index.ts";
import { shardOfKey } from "./_hash.ts";

/** How the Broker reaches other shards and the sessions of its own. */
export interface BrokerPort {
  readonly index: number;
  readonly count: number;
  sendToShard(shard: number, kind: number, payload: Uint8Array): void;
  /** Commits queued peer records now (route before SUBACK). */
  flushPeers(): void;
  session(clientId: string): Session | undefined;
  now(): number;
}

/** Message counters the shard reports as metrics. */
export interface BrokerStats {
  routedOut: number;
  dispatched: number;
  retainRefused: number;
}

interface RetainedQuery {
  readonly clientId: string;
  readonly filter: string;
  readonly opts: SubOptions;
  remaining: number;
}

/** One shard's broker; see the file header. */
export class Broker {
  readonly index = new SubscriptionIndex();
  readonly routes = new RouteTable();
  readonly retainer: Retainer;
  readonly stats: BrokerStats = { routedOut: 0, dispatched: 0, retainRefused: 0 };
  readonly #port: BrokerPort;
  readonly #queries = new Map<number, RetainedQuery>();
  #nextQueryId = 1;
  readonly #shardSet = new Set<number>();

  constructor(port: BrokerPort, retainer: Retainer) {
    this.#port = port;
    this.retainer = retainer;
  }

  /**
   * Publishes a message from a client of this shard (or its will). Returns false when no
   * subscriber anywhere matched, for the MQTT 5 "no matching subscribers" reason code.
   */
  publish(message: Message): boolean {
    if (message.retain) this.#storeRetained(message);
    const shards = this.routes.matchShards(message.topic, this.#shardSet);
    if (shards.size === 0) return false;
    let encoded: Uint8Array | null = null;
    for (const shard of shards) {
      if (shard === this.#port.index) continue;
      encoded ??= encodeMessage(message); // once, whatever the number of shards
      this.#port.sendToShard(shard, RecordKind.RoutedPublish, encoded);
      this.stats.routedOut++;
    }
    const local = shards.has(this.#port.index);
    shards.clear();
    if (local) this.dispatch(message);
    return true;
  }

  /** Delivers to this shard's subscribers [MQTT-3.3.4]; retain flag per [MQTT-3.3.1-9/-12]. */
  dispatch(message: Message): void {
    const now = this.#port.now();
    for (const [clientId, sub] of this.index.match(message.topic, message.origin)) {
      const session = this.#port.session(clientId);
      if (!session) continue;
      const d: Delivery = {
        message,
        qos: sub.qos < message.qos ? sub.qos : message.qos,
        retain: sub.retainAsPublished ? message.retain : false,
        subscriptionIds: sub.subscriptionIds,
      };
      session.deliver(d, now);
      this.stats.dispatched++;
    }
  }

  /** Adds a subscription; a filter's first local subscriber is announced to every shard. */
  subscribe(session: Session, filter: string, opts: SubOptions): void {
    session.subscriptions.set(filter, opts);
    if (this.index.add(filter, session.clientId, opts)) this.#announce(RecordKind.RouteAdd, filter);
  }

  /** Removes a subscription; returns false when it did not exist. */
  unsubscribe(session: Session, filter: string): boolean {
    if (!session.subscriptions.delete(filter)) return false;
    if (this.index.remove(filter, session.clientId)) {
      this.#announce(RecordKind.RouteRemove, filter);
    }
    return true;
  }

  /** Removes every subscription of a session that is going away. */
  unsubscribeAll(session: Session): void {
    for (const filter of [...session.subscriptions.keys()]) this.unsubscribe(session, filter);
  }

  /**
   * Sends the retained messages matching a new subscription: an exact filter asks the one
   * owner shard, a wildcard asks every shard. Answers arrive as RetainAnswer records.
   */
  requestRetained(clientId: string, filter: string, opts: SubOptions): void {
    const wildcard = filter.includes("+") || filter.includes("#");
    const targets = wildcard
      ? [...Array(this.#port.count).keys()]
      : [shardOfKey(filter, this.#port.count)];
    const id = this.#nextQueryId++;
    this.#queries.set(id, { clientId, filter, opts, remaining: targets.length });
    for (const shard of targets) {
      if (shard === this.#port.index) {
        this.#deliverRetained(id, this.retainer.query(filter, this.#port.now()));
      } else {
        const w = new FieldWriter();
        w.u32(id);
        w.str(filter);
        this.#port.sendToShard(shard, RecordKind.RetainQuery, w.finish());
      }
    }
  }

  /** Applies one record from a peer shard. Returns false for kinds it does not own. */
  applyPeerRecord(from: number, kind: number, payload: Uint8Array): boolean {
    switch (kind) {
      case RecordKind.RoutedPublish:
        this.dispatch(decodeMessage(payload));
        return true;
      case RecordKind.RouteAdd:
        this.routes.add(new FieldReader(payload).str(), from);
        return true;
      case RecordKind.RouteRemove:
        this.routes.remove(new FieldReader(payload).str(), from);
        return true;
      case RecordKind.RetainStore:
        this.#retain(decodeMessage(payload));
        return true;
      case RecordKind.RetainQuery: {
        const r = new FieldReader(payload);
        const id = r.u32();
        const found = this.retainer.query(r.str(), this.#port.now());
        const w = new FieldWriter();
        w.u32(id);
        w.u32(found.length);
        for (const m of found) w.bytes(encodeMessage(m));
        this.#port.sendToShard(from, RecordKind.RetainAnswer, w.finish());
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
      case RecordKind.RouteSnapshotRequest:
        for (const filter of this.index.filters()) {
          this.#port.sendToShard(from, RecordKind.RouteAdd, encodeFilter(filter));
        }
        return true;
      default:
        return false;
    }
  }

  /** A peer shard restarted with empty state: forget its routes, send it ours. */
  resetPeer(shard: number): void {
    this.routes.removeShard(shard);
    for (const filter of this.index.filters()) {
      this.#port.sendToShard(shard, RecordKind.RouteAdd, encodeFilter(filter));
    }
  }

  #storeRetained(message: Message): void {
    const owner = shardOfKey(message.topic, this.#port.count);
    if (owner === this.#port.index) this.#retain(message);
    else this.#port.sendToShard(owner, RecordKind.RetainStore, encodeMessage(message));
  }

  #retain(message: Message): RetainResult {
    const result = this.retainer.store(message);
    if (result === "refused" || result === "too_large") this.stats.retainRefused++;
    return result;
  }

  #deliverRetained(id: number, found: Message[]): void {
    const q = this.#queries.get(id);
    if (!q) return;
    if (--q.remaining <= 0) this.#queries.delete(id);
    const session = this.#port.session(q.clientId);
    // The subscription may be gone or replaced by the time the answer arrives.
    if (!session || session.subscriptions.get(q.filter) !== q.opts) return;
    const now = this.#port.now();
    for (const message of found) {
      session.deliver({
        message,
        qos: q.opts.qos < message.qos ? q.opts.qos : message.qos,
        retain: true, // [MQTT-3.3.1-8]
        subscriptionIds: q.opts.subscriptionId > 0 ? [q.opts.subscriptionId] : [],
      }, now);
    }
  }

  #announce(kind: number, filter: string): void {
    this.routes[kind === RecordKind.RouteAdd ? "add" : "remove"](filter, this.#port.index);
    const payload = encodeFilter(filter);
    for (let shard = 0; shard < this.#port.count; shard++) {
      if (shard !== this.#port.index) this.#port.sendToShard(shard, kind, payload);
    }
    this.#port.flushPeers();
  }
}

function encodeFilter(filter: string): Uint8Array {
  const w = new FieldWriter();
  w.str(filter);
  return w.finish();
}
