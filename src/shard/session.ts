/**
 * Session: the MQTT session state of one client id [MQTT-4.1] — subscriptions, the outgoing
 * inflight window and queue, packet id allocation, and the awaiting-PUBREL set of inbound QoS 2.
 * It outlives connections (persistent sessions) and talks to its current connection only through
 * the SessionOutput port, so it holds no socket, ring or timer. It is built in three layers, one
 * file each: SessionRecords (_session_records.ts: subscriptions, awaiting-PUBREL, expiry, drop
 * counters), SessionWindow (_session_window.ts: the window, the queue, packet ids, congestion, the
 * durable port) and Session here (deliveries handed over, and the hold of a moved session).
 */

import type { Delivery } from "./delivery.ts";
import type { InflightEntry } from "./inflight.ts";
import { SessionWindow } from "./_session_window.ts";

export type { DropReason, SubOptions } from "./_session_records.ts";
export type { SessionOutput } from "./_session_window.ts";

/** Session state; one per client id on the shard that owns the id. */
export class Session extends SessionWindow {
  /**
   * Deliveries held back while a session moved from another node waits for that node's
   * pendings (TAKEOVER_END): they are newer, so they go out after them. Null when not holding.
   */
  #held: Delivery[] | null = null;

  /** Takes one delivery: straight out if connected and the window allows, else queued. */
  override deliver(d: Delivery, now: number): void {
    // Past the queue's own bound the hold gives way (order may then break; nothing is lost).
    if (this.#held !== null && this.#held.length < this.maxQueueLength) {
      this.#held.push(d);
      return;
    }
    super.deliver(d, now);
  }

  /**
   * Takes back the QoS 1 deliveries of shared subscriptions that the client has not acknowledged
   * (queued, or sent without PUBACK) and that `pred` selects, so another group member can have
   * them. QoS 2 stays: the spec has it completed with this client [MQTT-4.8.2-4/-5].
   */
  takeShared(pred: (d: Delivery) => boolean, now: number): Delivery[] {
    // A persistent session's rows are in the store: they stay with it (no second copy).
    if (this.durable) return [];
    const select = (d: Delivery) => d.shared !== undefined && d.qos === 1 && pred(d);
    const taken: Delivery[] = [];
    for (const entry of [...this.inflight.values()]) {
      if (entry.phase === "publish" && select(entry.delivery)) {
        this.inflight.delete(entry.packetId);
        taken.push(entry.delivery);
      }
    }
    if (this.queue) taken.push(...this.queue.removeWhere(select));
    if (taken.length > 0) this.pump(now);
    return taken;
  }

  /**
   * Takes what the session still owes the client, for another node (the session moves): the
   * inflight entries in send order with their packet ids and phases (a QoS 2 one after PUBREC
   * waits for PUBCOMP: its PUBREL is resent there), then the queue. Durable entries not yet
   * committed (`pending`) are the store's: the caller reads the rows instead.
   */
  takeForMove(): { inflight: InflightEntry[]; queued: Delivery[] } {
    const inflight = [...this.inflight.values()].filter((e) => !e.pending);
    this.inflight.clear();
    const queued = this.queue ? this.queue.removeWhere(() => true) : [];
    return { inflight, queued };
  }

  /**
   * An inflight entry of a session moved from another node, with its packet id: resent (PUBLISH
   * with DUP, or PUBREL) when the client resumes [MQTT-4.4.0-1]. Durable: `seq` is the row the
   * caller wrote for it (its ack deletes the row). Call before attach().
   */
  adoptInflight(
    entry: { packetId: number; delivery: Delivery; phase: "publish" | "pubrel"; seq?: number },
    now: number,
  ): void {
    this.inflight.insert({ ...entry, sentAt: now });
  }

  /** Holds new deliveries until endHold() (a moved session waiting for its pendings). */
  hold(): void {
    this.#held ??= [];
  }

  /** Ends the hold; returns what was held, in arrival order, for the caller to deliver. */
  endHold(): Delivery[] {
    const held = this.#held ?? [];
    this.#held = null;
    return held;
  }
}
