/**
 * A persistent session moving between nodes (issue 15, takeover across nodes): the old node
 * exports it (subscriptions with their options, the deliveries the client has not surely
 * received, its expiry) as JSON and forgets it; the new node imports it into the session it just
 * opened, before CONNACK. A durable session's deliveries are read from its rows in the store.
 * QoS 2 state moves too, so exactly-once holds across the move: the inbound packet ids awaiting
 * PUBREL (a resent PUBLISH is acknowledged, not delivered again; the PUBREL gets PUBCOMP
 * [MQTT-4.3.3]) and the outbound inflight entries with their packet ids and phases (PUBLISH
 * resent with DUP and the same id, PUBREL resent [MQTT-4.4.0-1]). Private to src/shard/.
 */

import { decodeBase64, encodeBase64 } from "../bytes.ts";
import { decodeMessage, encodeMessage, ReasonCode } from "../mqtt/mod.ts";
import type { Broker } from "./broker.ts";
import type { Session, SubOptions } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { Channel } from "./channel.ts";
import type { ShardStore } from "./durable.ts";
import { Phase } from "../store/mod.ts";
import type { Delivery } from "./delivery.ts";
import { PUBREL_DELIVERY } from "./_durable_session.ts";

/** The session as it travels (JSON). */
export interface MovedSession {
  /** Milliseconds, or null for never (Infinity has no JSON form). */
  readonly expiry: number | null;
  readonly subscriptions: readonly (readonly [string, SubOptions])[];
  /** Not sent yet (queued): sent there with new packet ids. */
  readonly deliveries: readonly MovedDelivery[];
  /** Sent and unacknowledged, in send order (absent from nodes before this field). */
  readonly inflight?: readonly MovedInflight[];
  /** Inbound QoS 2 packet ids awaiting PUBREL, with their arrival times (epoch ms). */
  readonly awaitingRel?: readonly (readonly [number, number])[];
}

/** An inflight entry: "publish" awaits PUBACK/PUBREC (carries the message), "pubrel" PUBCOMP. */
interface MovedInflight {
  readonly id: number;
  readonly phase: "publish" | "pubrel";
  readonly d?: MovedDelivery;
}

interface MovedDelivery {
  /** The encoded Message, base64. */
  readonly m: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly ids: readonly number[];
  readonly shared?: string;
}

/**
 * Ends the client's connection here (0x8E; a will without delay goes out, a delayed one is
 * cancelled because the session goes on elsewhere), exports its session and discards it here.
 * Null when this shard has no session of that id. A durable session's deliveries are its rows in
 * the store (queued and inflight alike), read before the rows go: the answer is then a Promise.
 */
export function exportSession(
  registry: SessionRegistry<Channel>,
  broker: Broker,
  clientId: string,
  store: ShardStore | null = null,
): MovedSession | null | Promise<MovedSession | null> {
  const ch = registry.channelOf(clientId);
  if (ch) {
    const will = ch.takeWill();
    ch.disconnect(ReasonCode.SessionTakenOver, "takenover");
    if (will && will.delayMs === 0) broker.publish(will.message, "will");
  }
  const session = registry.get(clientId);
  if (!session) return null;
  if (session.durable && store) return exportDurable(registry, session, store);
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
  registry.discard(clientId);
  return moved;
}

function movedDelivery(d: Delivery): MovedDelivery {
  return {
    m: encodeBase64(encodeMessage(d.message)),
    qos: d.qos,
    retain: d.retain,
    ids: d.subscriptionIds,
    ...(d.shared === undefined ? {} : { shared: d.shared }),
  };
}

function movedOf(
  session: Session,
  deliveries: MovedDelivery[],
  inflight: MovedInflight[],
  awaitingRel: [number, number][],
): MovedSession {
  return {
    expiry: session.expiryInterval === Infinity ? null : session.expiryInterval,
    subscriptions: [...session.subscriptions],
    deliveries,
    inflight,
    awaitingRel,
  };
}

function deliveryOf(d: MovedDelivery): Delivery {
  return {
    message: decodeMessage(decodeBase64(d.m)),
    qos: d.qos,
    retain: d.retain,
    subscriptionIds: d.ids,
    ...(d.shared === undefined ? {} : { shared: d.shared }),
  };
}

/** Pages of a durable session's rows read per store round trip while it moves. */
const MOVE_PAGE = 1000;
/** Reads at most: bounded, so that a session under a firehose still moves (with what was read). */
const MAX_MOVE_READS = 10_000;

/**
 * Reads every row of the durable session (those written after the read began too: it reads on
 * until it has the session's last row) and its inbound ids awaiting PUBREL, then discards the
 * session, which deletes the rows. Sent rows move as inflight with their packet ids (a PUBREL
 * phase row without its message), queued ones as deliveries.
 */
async function exportDurable(
  registry: SessionRegistry<Channel>,
  session: Session,
  store: ShardStore,
): Promise<MovedSession | null> {
  const deliveries: MovedDelivery[] = [];
  const inflight: MovedInflight[] = [];
  const durableAtStart = session.durable;
  // Ids awaiting PUBREL are in memory once the client connected, else only in the store.
  const rels: [number, number][] = !durableAtStart || durableAtStart.relLoaded
    ? [...session.awaitingRel]
    : (await store.readAsync({ kind: "awaitingRel", sid: durableAtStart.sid })).map((
      r,
    ) => [r.packetId, r.receivedAt]);
  let after = 0;
  for (let round = 0; round < MAX_MOVE_READS; round++) {
    const durable = session.durable;
    if (!durable || registry.get(session.clientId) !== session) return null; // gone meanwhile
    if (after >= durable.lastSeq) break;
    // A read sees what was committed before it was sent; rows written while it was out (the
    // session still takes deliveries) are read by the next round.
    const target = durable.lastSeq;
    const rows = await store.readAsync({
      kind: "outgoing",
      sid: durable.sid,
      afterSeq: after,
      limit: MOVE_PAGE,
    });
    if (rows.length === 0) {
      if ((session.durable?.lastSeq ?? 0) <= target) break; // the rest was acknowledged
      continue;
    }
    for (const row of rows) {
      after = row.seq;
      if (row.phase === Phase.Pubrel) {
        inflight.push({ id: row.packetId, phase: "pubrel" });
        continue;
      }
      if (row.body === null) continue;
      const d: MovedDelivery = {
        m: encodeBase64(row.body),
        qos: row.qos,
        retain: row.retain,
        ids: row.subIds,
        ...(row.shared ? { shared: row.shared } : {}),
      };
      if (row.phase === Phase.Sent) inflight.push({ id: row.packetId, phase: "publish", d });
      else deliveries.push(d);
    }
  }
  const moved = movedOf(session, deliveries, inflight, rels);
  registry.discard(session.clientId);
  return moved;
}

/**
 * Subscribes `session` as the moved one was (routes announced), takes its inflight entries with
 * their packet ids (resent when the client resumes) and its inbound ids awaiting PUBREL (kept in
 * the store too when `session` is durable), then queues its deliveries. Call before attach().
 */
export function importSession(
  broker: Broker,
  session: Session,
  moved: MovedSession,
  now: number,
  store: ShardStore | null = null,
): void {
  for (const [filter, opts] of moved.subscriptions) broker.subscribe(session, filter, opts);
  for (const e of moved.inflight ?? []) {
    const delivery = e.phase === "publish" && e.d ? deliveryOf(e.d) : PUBREL_DELIVERY;
    session.adoptInflight({ packetId: e.id, delivery, phase: e.d ? e.phase : "pubrel" }, now);
  }
  for (const [packetId, at] of moved.awaitingRel ?? []) {
    session.awaitRel(packetId, at);
    if (store && session.durable) store.batch.awaitRel(session.durable.sid, packetId, at);
  }
  for (const d of moved.deliveries) session.deliver(deliveryOf(d), now);
}
