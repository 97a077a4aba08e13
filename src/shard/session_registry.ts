/**
 * SessionRegistry: client id → Session on this shard, and which Channel is bound to each. Opens
 * (new, resumed or taken over), ends and expires sessions, and owns the pending delayed wills.
 * A client id always hashes to this shard, so takeover never leaves the isolate and needs no lock.
 */

import type { Config } from "../config/types.ts";
import { ReasonCode } from "../mqtt/mod.ts";
import type { Broker } from "./broker.ts";
import type { Channel } from "./channel.ts";
import { Session } from "./session.ts";
import type { Will } from "./will.ts";

interface PendingWill {
  readonly will: Will;
  readonly at: number;
}

/** Counters for $SYS and metrics. */
export interface RegistryStats {
  sessionsCreated: number;
  sessionsExpired: number;
  takeovers: number;
  willsPublished: number;
  dropped: number;
}

/** Sessions of one shard; see the file header. */
export class SessionRegistry {
  readonly #countDrop = (): void => {
    this.stats.dropped++;
  };
  readonly stats: RegistryStats = {
    sessionsCreated: 0,
    sessionsExpired: 0,
    takeovers: 0,
    willsPublished: 0,
    dropped: 0,
  };
  readonly #sessions = new Map<string, Session>();
  readonly #live = new Map<string, Channel>();
  readonly #wills = new Map<string, PendingWill>();
  readonly #config: Config;
  readonly #broker: Broker;

  constructor(config: Config, broker: Broker) {
    this.#config = config;
    this.#broker = broker;
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
  open(channel: Channel, cleanStart: boolean, expiryMs: number) {
    const clientId = channel.clientId;
    const old = this.#live.get(clientId);
    if (old) {
      this.stats.takeovers++;
      const oldWill = old.will;
      old.will = null;
      old.disconnect(ReasonCode.SessionTakenOver, "takenover");
      // The old connection's will: immediate unless it had a delay and the session resumes.
      if (oldWill && (cleanStart || oldWill.delayMs === 0)) this.#publishWill(oldWill);
    }
    let session = this.#sessions.get(clientId);
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
      session = new Session(clientId, this.#config.mqtt, expiryMs);
      session.onDrop = this.#countDrop; // one function for all sessions, not a closure each
      this.#sessions.set(clientId, session);
      this.stats.sessionsCreated++;
    }
    this.#live.set(clientId, channel);
    return { session, present };
  }

  /** A bound connection ended: detach, handle its will, end a session with no expiry. */
  channelClosed(channel: Channel, will: Will | null, _reason: string): void {
    const session = channel.session;
    if (!session) return;
    if (this.#live.get(channel.clientId) === channel) this.#live.delete(channel.clientId);
    if (this.#sessions.get(channel.clientId) !== session) return; // replaced by a clean start
    if (session.connected) session.detach(Date.now());
    const now = session.disconnectedAt;
    this.#broker.redispatchShared(session);
    if (will) {
      const delay = Math.min(will.delayMs, session.expiryInterval);
      if (delay > 0) this.#wills.set(session.clientId, { will, at: now + delay });
      else this.#publishWill(will);
    }
    if (session.expiryInterval === 0 && !this.#live.has(session.clientId)) this.#end(session);
  }

  /** Publishes due delayed wills and ends expired sessions. Called by the shard's tick. */
  sweep(now: number): void {
    for (const [clientId, p] of this.#wills) {
      if (p.at <= now) {
        this.#wills.delete(clientId);
        this.#publishWill(p.will);
      }
    }
    for (const session of this.#sessions.values()) {
      if (session.connected || session.disconnectedAt === 0) continue;
      if (now - session.disconnectedAt >= session.expiryInterval) {
        this.stats.sessionsExpired++;
        this.#end(session);
      }
    }
  }

  /** Every live channel (for keepalive checks and shutdown). */
  channels(): IterableIterator<Channel> {
    return this.#live.values();
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
    session.clear();
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }

  #publishWill(will: Will): void {
    this.stats.willsPublished++;
    this.#broker.publish({ ...will.message, timestamp: Date.now() });
  }
}
