/**
 * SessionRegistry: client id → Session on this shard, and which Channel is bound to each. Opens
 * (new, resumed or taken over), ends and expires sessions, and owns the pending delayed wills.
 * A client id always hashes to this shard, so takeover never leaves the isolate and needs no lock.
 */

import type { Config } from "../config/types.ts";
import { partitionOf } from "../ipc/mod.ts";
import { decodeMessage, ReasonCode } from "../mqtt/mod.ts";
import type { LoadedSession } from "../store/mod.ts";
import type { Broker } from "./broker.ts";
import type { Clock } from "./clock.ts";
import type { Delivery } from "./delivery.ts";
import type { Metrics } from "./metrics.ts";
import { type DropReason, Session } from "./session.ts";
import type { Will } from "./will.ts";
import type { ShardStore } from "./durable.ts";
import { DurableQueue } from "./_durable_session.ts";

/** EMQX's metric for each reason a delivery to one subscriber is dropped. */
const DROP_METRIC: Readonly<Record<DropReason, string>> = {
  queue_full: "delivery.dropped.queue_full",
  qos0_offline: "delivery.dropped.qos0_msg",
  expired: "delivery.dropped.expired",
  too_large: "delivery.dropped.too_large",
};

/** The longest a timer is armed for at once (setTimeout's limit, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface PendingWill {
  readonly will: Will;
  readonly at: number;
}

/** What the registry needs of a connection bound to a session (Channel is one). */
export interface BoundChannel {
  readonly clientId: string;
  /** Hands over the connection's will (to publish or delay) and forgets it. */
  takeWill(): Will | null;
  /** Ends the connection from the server's side with a reason code. */
  disconnect(reasonCode: number, reason: string): void;
}

/** Sessions of one shard; see the file header. `C` is the connection type bound to them. */
export class SessionRegistry<C extends BoundChannel = BoundChannel> {
  /** One function for every session's drops (a closure each would cost ~100 bytes a session). */
  readonly #countDrop = (d: Delivery, reason: DropReason): void => {
    this.#metrics.add("delivery.dropped");
    this.#metrics.add(DROP_METRIC[reason]);
    this.#broker.dropped(d.message, reason);
  };
  /** A disk queue row dropped whose message is not known (a refused commit): no hook runs. */
  readonly #countDropUnread = (reason: DropReason): void => {
    this.#metrics.add("delivery.dropped");
    this.#metrics.add(DROP_METRIC[reason]);
  };
  readonly #sessions = new Map<string, Session>();
  readonly #live = new Map<string, C>();
  readonly #wills = new Map<string, PendingWill>();
  #config: Config;
  readonly #broker: Broker;
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  /** Durable mode only: sessions with an expiry are stored (docs/store.md). */
  readonly #store: ShardStore | null;
  /**
   * Called when this shard starts (true) or stops (false) holding a session of a client id: the
   * node's entries of the cluster's client registry (NodeRouting.session). Null when alone.
   */
  onHeld: ((clientId: string, held: boolean) => void) | null = null;

  constructor(
    config: Config,
    broker: Broker,
    clock: Clock,
    metrics: Metrics,
    store: ShardStore | null = null,
  ) {
    this.#config = config;
    this.#broker = broker;
    this.#clock = clock;
    this.#metrics = metrics;
    this.#store = store;
  }

  /** A run-time config change: sessions opened from now on take their limits from `config`. */
  set config(config: Config) {
    this.#config = config;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get connectedCount(): number {
    return this.#live.size;
  }

  get(clientId: string): Session | undefined {
    return this.#sessions.get(clientId);
  }

  /**
   * Binds `channel` to the session of its client id. An existing connection is taken over
   * [MQTT-3.1.4-3]; clean start discards the old session [MQTT-3.1.2-4], otherwise it resumes
   * and any delayed will is cancelled [MQTT-3.1.3-9].
   */
  open(channel: C, cleanStart: boolean, expiryMs: number, protoVer = 4) {
    const clientId = channel.clientId;
    const old = this.#live.get(clientId);
    if (old) {
      this.#metrics.add("session.takenover");
      const oldWill = old.takeWill();
      old.disconnect(ReasonCode.SessionTakenOver, "takenover");
      // The old connection's will: immediate unless it had a delay and the session resumes.
      if (oldWill && (cleanStart || oldWill.delayMs === 0)) this.#publishWill(oldWill);
    }
    let session = this.#sessions.get(clientId);
    // A session whose interval has passed is gone (MQTT 5.0 3.1.2.11.2), whether or not the tick has
    // ended it yet: a reconnect a moment after the expiry must not find it present.
    if (session && this.#expired(session, this.#clock.now())) {
      this.#metrics.add("session.terminated");
      this.#end(session);
      session = undefined;
    }
    const pending = this.#wills.get(clientId);
    if (pending) {
      this.#wills.delete(clientId);
      if (cleanStart || !session) this.#publishWill(pending.will); // the session ended
    }
    let present = false;
    if (session && !cleanStart) {
      present = true;
      session.expiryInterval = expiryMs;
    } else {
      if (session) this.#end(session);
      session = new Session(clientId, this.#config.mqtt, expiryMs, this.#clock.now());
      session.onDrop = this.#countDrop;
      session.onDropUnread = this.#countDropUnread;
      if (this.#store && expiryMs > 0) {
        // A persistent session in durable mode: its rows live in the store from now on.
        const sid = this.#store.newKey(partitionOf(clientId));
        session.durable = this.#durableQueue(sid, protoVer, 0, 0, true);
      }
      this.#sessions.set(clientId, session);
      this.onHeld?.(clientId, true);
      this.#metrics.add("session.created");
    }
    this.#live.set(clientId, channel);
    return { session, present };
  }

  /** A bound connection ended: detach, handle its will, end a session with no expiry. */
  channelClosed(channel: C, session: Session, will: Will | null): void {
    if (this.#live.get(channel.clientId) === channel) this.#live.delete(channel.clientId);
    if (this.#sessions.get(channel.clientId) !== session) return; // replaced by a clean start
    if (session.connected) session.detach(this.#clock.now());
    const now = session.disconnectedAt;
    this.#broker.redispatchShared(session);
    let keptWill: Will | null = null;
    if (will) {
      const delay = Math.min(will.delayMs, session.expiryInterval);
      if (delay > 0) this.#holdWill(session.clientId, { will: keptWill = will, at: now + delay });
      else this.#publishWill(will);
    }
    if (session.expiryInterval === 0 && !this.#live.has(session.clientId)) this.#end(session);
    else if (session.durable && !this.#live.has(session.clientId)) {
      this.storeRow(session, false, keptWill); // a delayed will stays stored until published
    }
  }

  /**
   * Durable mode: writes the session's row (CONNECT, disconnect, a will published). A no-op for
   * a session that is not stored.
   */
  storeRow(session: Session, connected: boolean, will: Will | null): void {
    const d = session.durable;
    if (!d || !this.#store) return;
    this.#store.batch.session({
      sid: d.sid,
      clientId: session.clientId,
      protoVer: d.protoVer,
      expiryMs: session.expiryInterval,
      connected,
      disconnectedAt: connected ? 0 : session.disconnectedAt,
      createdAt: session.createdAt,
      will: will?.message ?? null,
      willDelayMs: will?.delayMs ?? 0,
    });
  }

  /**
   * A persistent session read from the store at start: subscriptions back into the index and
   * routes, its will pending per its delay, its queue left on disk. One that was connected when
   * the broker stopped (a crash) lost its connection now.
   */
  restore(row: LoadedSession, now: number): void {
    const expiryMs = row.expiryMs < 0 ? Infinity : row.expiryMs;
    const session = new Session(row.clientId, this.#config.mqtt, expiryMs, row.createdAt);
    session.onDrop = this.#countDrop;
    session.onDropUnread = this.#countDropUnread;
    session.disconnectedAt = row.connected || row.disconnectedAt === 0 ? now : row.disconnectedAt;
    const d = this.#durableQueue(
      row.sid,
      row.protoVer,
      row.outgoing.lastSeq,
      row.outgoing.rows,
      false,
    );
    session.durable = d;
    this.#sessions.set(row.clientId, session);
    this.onHeld?.(row.clientId, true);
    for (const s of row.subscriptions) this.#broker.subscribe(session, s.filter, s.opts);
    let will: Will | null = null;
    if (row.will) {
      will = { message: decodeMessage(row.will), delayMs: row.willDelayMs };
      const at = session.disconnectedAt + Math.min(row.willDelayMs, expiryMs);
      this.#holdWill(row.clientId, { will, at });
    }
    if (row.connected) this.storeRow(session, false, will);
  }

  #durableQueue(sid: number, protoVer: number, lastSeq: number, onDisk: number, fresh: boolean) {
    const mqtt = this.#config.mqtt;
    return new DurableQueue(this.#store!, {
      sid,
      protoVer,
      lastSeq,
      onDisk,
      relLoaded: fresh,
      maxLen: mqtt.maxMqueueLen,
      dropOldest: mqtt.mqueueDropPolicy === "drop_oldest",
      storeQos0: mqtt.mqueueStoreQos0,
    });
  }

  /** Publishes due delayed wills and ends expired sessions. Called by the shard's tick. */
  sweep(now: number): void {
    for (const [clientId, p] of this.#wills) if (p.at <= now) this.#releaseWill(clientId, p);
    for (const session of this.#sessions.values()) {
      if (this.#expired(session, now)) {
        this.#metrics.add("session.terminated");
        this.#end(session);
      }
    }
  }

  /** A disconnected session whose expiry interval has passed by `now`. */
  #expired(session: Session, now: number): boolean {
    return !session.connected && session.disconnectedAt !== 0 &&
      now - session.disconnectedAt >= session.expiryInterval;
  }

  /**
   * Keeps a delayed will and arms a timer for its time, so it goes out when its delay (or the
   * session) ends [MQTT-3.1.3-9], not up to a tick later; the tick's sweep stays as the backstop.
   */
  #holdWill(clientId: string, pending: PendingWill): void {
    this.#wills.set(clientId, pending);
    this.#armWill(clientId, pending);
  }

  #armWill(clientId: string, pending: PendingWill): void {
    const wait = Math.min(Math.max(0, pending.at - this.#clock.now()), MAX_TIMER_MS);
    this.#clock.setTimer(wait, () => {
      if (this.#wills.get(clientId) !== pending) return; // published, cancelled or replaced
      // A timer may fire a little early, and a long delay waits in steps of MAX_TIMER_MS.
      if (pending.at > this.#clock.now()) this.#armWill(clientId, pending);
      else this.#releaseWill(clientId, pending);
    });
  }

  /** Publishes a due delayed will; a durable session's row forgets it. */
  #releaseWill(clientId: string, pending: PendingWill): void {
    this.#wills.delete(clientId);
    this.#publishWill(pending.will);
    const session = this.#sessions.get(clientId);
    if (session?.durable && !this.#live.has(clientId)) this.storeRow(session, false, null);
  }

  /** Every live channel (for keepalive checks and shutdown). */
  channels(): IterableIterator<C> {
    return this.#live.values();
  }

  /** The live channel of a client id, if it is connected. */
  channelOf(clientId: string): C | undefined {
    return this.#live.get(clientId);
  }

  /** Ends a session that has no connection (an operator's kick): subscriptions and queue go. */
  discard(clientId: string): boolean {
    const session = this.#sessions.get(clientId);
    if (!session || this.#live.has(clientId)) return false;
    this.#metrics.add("session.discarded");
    this.#end(session);
    return true;
  }

  /** Sessions that are connected (for retries). */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  #end(session: Session): void {
    const pending = this.#wills.get(session.clientId);
    if (pending) {
      this.#wills.delete(session.clientId);
      this.#publishWill(pending.will); // the session ends before the delay [MQTT-3.1.3-9]
    }
    this.#broker.unsubscribeAll(session);
    if (session.durable) this.#store?.batch.sessionDelete(session.durable.sid);
    session.clear();
    if (this.#sessions.get(session.clientId) === session) {
      this.#sessions.delete(session.clientId);
      this.onHeld?.(session.clientId, false);
    }
  }

  #publishWill(will: Will): void {
    this.#broker.publish({ ...will.message, timestamp: this.#clock.now() }, "will");
  }
}
