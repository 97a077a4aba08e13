/**
 * BrokerRetained: the retained side of one shard's Broker. Stores a retained publish at its owner
 * shard (or in the store file with a disc retainer), looks up the retained messages of a new
 * subscription (one owner shard for an exact filter, every shard for a wildcard, the store file
 * page by page on disc) and answers other shards' lookups after their stores. Private to
 * src/shard/; owns the open lookups. The Retainer and DiscRetained hold the messages; sessions
 * are reached through RetainedPort.
 */

import { FieldReader, FieldWriter, RecordKind, shardOf } from "../ipc/mod.ts";
import {
  decodeMessage,
  encodeMessage,
  encodeMessageParts,
  hasWildcard,
  matches,
  type Message,
} from "../mqtt/mod.ts";
import type { Retainer } from "./retainer.ts";
import type { DiscRetained } from "./retained_disc.ts";
import type { SubOptions } from "./session.ts";
import type { SharedPort } from "./_shared_delivery.ts";

/** What the retained side reaches through its Broker's port. */
export interface RetainedPort extends SharedPort {
  readonly count: number;
  /** A retained message was not stored: the store is full or the payload over its bound. */
  onRetainRefused(why: "refused" | "too_large"): void;
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

/** See the file header. */
export class BrokerRetained {
  readonly retainer: Retainer;
  /** Set with `retainer.backend.storage_type: disc`: `retainer` then stays empty. */
  readonly disc: DiscRetained | null;
  readonly #port: RetainedPort;
  /** The Broker's QoS rule (upgrade_qos). */
  readonly #grantedQos: (subQos: 0 | 1 | 2, msgQos: 0 | 1 | 2) => 0 | 1 | 2;
  readonly #queries = new Map<number, RetainedQuery>();
  /** Every open lookup: memory ones (also in #queries) and disc ones. */
  readonly #openLookups = new Set<RetainedQuery>();
  /** Retained queries from peers read in this pass, answered by answerQueries(). */
  #pendingQueries: { from: number; id: number; filter: string }[] = [];
  #nextQueryId = 1;

  constructor(
    port: RetainedPort,
    stores: { retainer: Retainer; disc: DiscRetained | null },
    grantedQos: (subQos: 0 | 1 | 2, msgQos: 0 | 1 | 2) => 0 | 1 | 2,
  ) {
    this.#port = port;
    this.retainer = stores.retainer;
    this.disc = stores.disc;
    this.#grantedQos = grantedQos;
  }

  /** A retained publish of this shard: into the store file, or to the owner shard's Retainer. */
  store(message: Message): void {
    if (this.disc) {
      if (this.disc.store(message) && message.payload.byteLength > 0) {
        this.#port.metrics.add("messages.retained");
      }
    } else this.#storeRetained(message);
  }

  /**
   * A retained message from another node. Last writer wins by the time it was published: a full
   * set sent on link up may arrive after a newer write of the same topic.
   */
  storeRemote(m: Message): void {
    if (this.disc) {
      this.disc.storeIfNewer(m);
      return;
    }
    const held = this.retainer.get(m.topic, this.#port.clock.now());
    if (!held || held.timestamp <= m.timestamp) this.retain(m);
  }

  /** Stores in this shard's Retainer (this shard owns the topic). */
  retain(message: Message): void {
    const result = this.retainer.store(message);
    if (result === "stored") this.#port.metrics.add("messages.retained");
    else if (result === "refused" || result === "too_large") this.#port.onRetainRefused(result);
  }

  /** A retained publish was dispatched here: open lookups whose filter matches skip its topic. */
  dispatched(topic: string): void {
    if (this.#openLookups.size > 0) this.#noteLive(topic);
  }

  #noteLive(topic: string): void {
    for (const q of this.#openLookups) {
      if (matches(q.filter, topic)) (q.live ??= new Set()).add(topic);
    }
  }

  /** See Broker.requestRetained. */
  request(clientId: string, filter: string, opts: SubOptions): void {
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

  /** A RetainQuery record: answered by answerQueries() (see the call in _broker_records.ts). */
  queried(from: number, payload: Uint8Array): void {
    const r = new FieldReader(payload);
    this.#pendingQueries.push({ from, id: r.u32(), filter: r.str() });
  }

  /** A RetainAnswer record: one owner shard's part of a lookup of this shard. */
  answered(payload: Uint8Array): void {
    const r = new FieldReader(payload);
    const id = r.u32();
    const n = r.u32();
    const found: Message[] = [];
    for (let i = 0; i < n; i++) found.push(decodeMessage(r.bytes()));
    this.#deliverRetained(id, found);
  }

  /** See Broker.answerQueries. */
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

  #storeRetained(message: Message): void {
    const owner = shardOf(message.topic, this.#port.count);
    if (owner === this.#port.index) this.retain(message);
    else this.#port.sendToShard(owner, RecordKind.RetainStore, encodeMessageParts(message));
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
}
