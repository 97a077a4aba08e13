/**
 * A persistent session moving between nodes (issue 15, takeover across nodes), in two phases as
 * EMQX's emqx_cm takeover begin/end. BEGIN: the old node exports it (subscriptions with their
 * options, the deliveries the client has not surely received, its expiry) as JSON and keeps it,
 * offline and subscribed, so that what still arrives there is collected (its queue, or its rows
 * written after the export's read). The new node imports it into the session it just opened,
 * before CONNACK, and holds its own new deliveries. END: the old node hands over what it collected
 * (the pendings) and forgets the session; the new node delivers the pendings, then what it held,
 * dropping a held copy of a pending (the same message forwarded to both nodes). A durable
 * session's deliveries are read from its rows in the store.
 * QoS 2 state moves too, so exactly-once holds across the move: the inbound packet ids awaiting
 * PUBREL (a resent PUBLISH is acknowledged, not delivered again; the PUBREL gets PUBCOMP
 * [MQTT-4.3.3]) and the outbound inflight entries with their packet ids and phases (PUBLISH
 * resent with DUP and the same id, PUBREL resent [MQTT-4.4.0-1]). The JSON form and the reads of
 * a durable session's rows are _moved_session.ts. Private to src/shard/.
 */

import { encodeBase64 } from "../bytes.ts";
import { ReasonCode } from "../mqtt/mod.ts";
import type { Broker } from "./broker.ts";
import type { Session } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { Channel } from "./channel.ts";
import type { ShardStore } from "./durable.ts";
import type { Delivery } from "./delivery.ts";
import { PUBREL_DELIVERY } from "./_durable_session.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { Logger } from "@logtape/logtape";
import {
  deliveryOf,
  exportDurable,
  movedDelivery,
  movedOf,
  type MovedPendings,
  type MovedSession,
  readRows,
} from "./_moved_session.ts";

export type { MovedPendings, MovedSession } from "./_moved_session.ts";

/** A session exported by BEGIN and kept here until END (or until the move times out). */
interface Moving {
  readonly session: Session;
  /** Durable: the last row the export read; the pendings are the rows after it. */
  readonly afterSeq: number;
  readonly timer: TimerHandle;
  /** The node that asked (BEGIN): only its END takes the pendings. */
  readonly to: string;
}

/** What a shard needs to move a session (its ShardServices). */
export interface MoveContext {
  readonly registry: SessionRegistry<Channel>;
  readonly broker: Broker;
  readonly store: ShardStore | null;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: { readonly cluster: { readonly takeoverTimeout: number } };
}

/** Moving sessions per shard, keyed by the shard's registry (one registry per shard). */
const movingOf = new WeakMap<SessionRegistry<Channel>, Map<string, Moving>>();

/** True while the session of `clientId` is between BEGIN and END here. */
export function isMoving(registry: SessionRegistry<Channel>, clientId: string): boolean {
  return movingOf.get(registry)?.has(clientId) ?? false;
}

/**
 * TAKEOVER_BEGIN. Ends the client's connection here (0x8E; a will without delay goes out, a
 * delayed one is cancelled because the session goes on elsewhere) and exports its session,
 * which stays here, offline and subscribed, collecting pendings until takeoverEnd() or
 * twice cluster.takeover_timeout (B waits that long for BEGIN's answer, then for END's); then it
 * is a normal offline session again, logged. Null when this shard has no session of that id. A
 * durable session's deliveries are its rows in the store (queued and inflight alike): the answer
 * is then a Promise.
 */
export function exportSession(
  svc: MoveContext,
  clientId: string,
  to = "",
): MovedSession | null | Promise<MovedSession | null> {
  const { registry, broker, store } = svc;
  const ch = registry.channelOf(clientId);
  if (ch) {
    const will = ch.takeWill();
    ch.disconnect(ReasonCode.SessionTakenOver, "takenover");
    if (will && will.delayMs === 0) broker.publish(will.message, "will");
  }
  const session = registry.get(clientId);
  if (!session) return null;
  if (session.durable && store) {
    return exportDurable(registry, session, store).then((read) => {
      if (!read) return null;
      keepMoving(svc, session, read.afterSeq, to);
      return movedOf(session, read.deliveries, read.inflight, read.rels);
    });
  }
  const { inflight, queued } = session.takeForMove();
  const moved = movedOf(
    session,
    queued.map(movedDelivery),
    inflight.map((e) => ({
      id: e.packetId,
      phase: e.phase,
      ...(e.phase === "publish" ? { d: movedDelivery(e.delivery) } : {}),
    })),
    [...session.awaitingRel],
  );
  keepMoving(svc, session, 0, to);
  return moved;
}

/**
 * A second BEGIN while the session moves (the client went on to a third node) exports what was
 * collected so far to that node, which then holds the move: the first node's END gets nothing.
 */
function keepMoving(svc: MoveContext, session: Session, afterSeq: number, to: string): void {
  const { registry, clock, log } = svc;
  let moving = movingOf.get(registry);
  if (!moving) movingOf.set(registry, moving = new Map());
  const clientId = session.clientId;
  const old = moving.get(clientId);
  if (old) clock.clearTimer(old.timer);
  const timer = clock.setTimer(2 * svc.config.cluster.takeoverTimeout, () => {
    if (moving.get(clientId)?.session !== session) return;
    moving.delete(clientId);
    log.warning(
      "Client {clientId}: no TAKEOVER_END came for its exported session; it stays here as an " +
        "offline session",
      { clientId },
    );
  });
  moving.set(clientId, { session, afterSeq, timer, to });
}

/**
 * TAKEOVER_END: the new node has the session and its routes: this node hands over what reached
 * the session since the export (its queue, or its rows after the export's read) and forgets it
 * (unsubscribed, rows deleted). Null when it is not moving here (timed out, expired, or the
 * client came back here meanwhile).
 */
export function takeoverEnd(
  svc: MoveContext,
  clientId: string,
  from = "",
): MovedPendings | null | Promise<MovedPendings | null> {
  const { registry, store, clock } = svc;
  const moving = movingOf.get(registry);
  const m = moving?.get(clientId);
  if (!moving || !m || m.to !== from) return null;
  moving.delete(clientId);
  clock.clearTimer(m.timer);
  const session = m.session;
  if (registry.get(clientId) !== session || session.connected) return null;
  if (session.durable && store) {
    return readRows(registry, session, store, m.afterSeq).then((read) => {
      if (!read) return null;
      registry.discard(clientId);
      // Offline since the export: nothing was sent, so every row is a delivery.
      return {
        deliveries: [...read.inflight.flatMap((e) => e.d ? [e.d] : []), ...read.deliveries],
      };
    });
  }
  const { inflight, queued } = session.takeForMove();
  registry.discard(clientId);
  const deliveries = [
    ...inflight.flatMap((e) => e.phase === "publish" ? [e.delivery] : []),
    ...queued,
  ];
  return { deliveries: deliveries.map(movedDelivery) };
}

/**
 * Subscribes `session` as the moved one was (routes announced), takes its inflight entries with
 * their packet ids (resent when the client resumes) and its inbound ids awaiting PUBREL, then
 * queues its deliveries. When `session` is durable all of it goes into the store too, in the
 * pass's commit that CONNACK waits for: its subscriptions, the inflight entries as sent rows
 * (phase and packet id), the ids awaiting PUBREL, the deliveries as queued rows. Call before
 * attach().
 */
export function importSession(
  broker: Broker,
  session: Session,
  moved: MovedSession,
  now: number,
  store: ShardStore | null = null,
): void {
  const durable = store ? session.durable : null;
  for (const [filter, opts] of moved.subscriptions) {
    broker.subscribe(session, filter, opts);
    // Stored as its client's SUBSCRIBE would be (handlers/subscribe.ts): without the rows a
    // crash of this node brought the session back with no subscriptions.
    if (durable) store?.batch.subscribe(durable.sid, filter, opts);
  }
  for (const e of moved.inflight ?? []) {
    const phase = e.phase === "publish" && e.d ? "publish" : "pubrel";
    const delivery = phase === "publish" ? deliveryOf(e.d!) : PUBREL_DELIVERY;
    if (!durable || !store) {
      session.adoptInflight({ packetId: e.id, delivery, phase }, now);
      continue;
    }
    // Durable: the entry gets a row (the session's next seq, its packet id, phase Sent or
    // Pubrel) in the pass's commit, which CONNACK waits for; so a crash of this node after
    // CONNACK resends it after the restart as one sent before the crash: the same id, DUP.
    const seq = ++durable.lastSeq;
    durable.cursor = seq; // in memory (the window), not on disk only: never read back now
    // A PUBREL row has no message; a fresh empty one each (the batch would share one object's
    // body between rows).
    const stored = phase === "publish"
      ? delivery
      : { ...delivery, message: { ...delivery.message } };
    store.batch.enqueue(durable.sid, seq, stored, e.id);
    if (phase === "pubrel") store.batch.pubrel(durable.sid, seq);
    session.adoptInflight({ packetId: e.id, delivery, phase, seq }, now);
  }
  for (const [packetId, at] of moved.awaitingRel ?? []) {
    session.awaitRel(packetId, at);
    if (store && session.durable) store.batch.awaitRel(session.durable.sid, packetId, at);
  }
  for (const d of moved.deliveries) session.deliver(deliveryOf(d), now);
}

/**
 * The new node's side of END: delivers the pendings (after the resumed inflight and the moved
 * queue), then what the session held meanwhile, less the held copies of pendings (a message
 * forwarded to both nodes while the routes changed). Copies are recognised by origin, broker
 * timestamp, topic and payload; `body` is TAKEOVER_END's answer (null for none: the old node
 * timed out, went down, or had nothing).
 */
export function finishMove(session: Session, body: string | null, now: number): number {
  const held = session.endHold();
  const pendings = body === null
    ? []
    : (JSON.parse(body) as MovedPendings).deliveries.map(deliveryOf);
  const seen = new Map<string, number>();
  for (const d of pendings) seen.set(copyKey(d), (seen.get(copyKey(d)) ?? 0) + 1);
  for (const d of pendings) session.deliver(d, now);
  for (const d of held) {
    const key = copyKey(d);
    const n = seen.get(key) ?? 0;
    if (n > 0) {
      seen.set(key, n - 1);
      continue;
    }
    session.deliver(d, now);
  }
  return pendings.length;
}

function copyKey(d: Delivery): string {
  const m = d.message;
  return `${m.origin}\u0000${m.timestamp}\u0000${m.topic}\u0000${encodeBase64(m.payload)}`;
}
