/**
 * A persistent session moving between nodes (issue 15, takeover across nodes): the old node
 * exports it (subscriptions with their options, the deliveries the client has not surely
 * received, its expiry) as JSON and forgets it; the new node imports it into the session it just
 * opened, before CONNACK. A durable session's deliveries are read from its rows in the store.
 * Private to src/shard/. What does not move yet: QoS 2 packet ids waiting
 * for PUBREL (inbound) and the second half of outbound QoS 2 (docs/cluster.md).
 */

import { decodeBase64, encodeBase64 } from "../bytes.ts";
import { decodeMessage, encodeMessage, ReasonCode } from "../mqtt/mod.ts";
import type { Broker } from "./broker.ts";
import type { Session, SubOptions } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { Channel } from "./channel.ts";
import type { ShardStore } from "./durable.ts";
import { Phase } from "../store/mod.ts";

/** The session as it travels (JSON). */
export interface MovedSession {
  /** Milliseconds, or null for never (Infinity has no JSON form). */
  readonly expiry: number | null;
  readonly subscriptions: readonly (readonly [string, SubOptions])[];
  readonly deliveries: readonly MovedDelivery[];
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
  const moved = movedOf(
    session,
    session.takePending().map((d) => ({
      m: encodeBase64(encodeMessage(d.message)),
      qos: d.qos,
      retain: d.retain,
      ids: d.subscriptionIds,
      ...(d.shared === undefined ? {} : { shared: d.shared }),
    })),
  );
  registry.discard(clientId);
  return moved;
}

function movedOf(session: Session, deliveries: MovedDelivery[]): MovedSession {
  return {
    expiry: session.expiryInterval === Infinity ? null : session.expiryInterval,
    subscriptions: [...session.subscriptions],
    deliveries,
  };
}

/** Pages of a durable session's rows read per store round trip while it moves. */
const MOVE_PAGE = 1000;
/** Reads at most: bounded, so that a session under a firehose still moves (with what was read). */
const MAX_MOVE_READS = 10_000;

/**
 * Reads every row of the durable session (those written after the read began too: it reads on
 * until it has the session's last row), then discards the session, which deletes the rows. A
 * row waiting only for PUBREL does not move (the outbound QoS 2 second half, see the header).
 */
async function exportDurable(
  registry: SessionRegistry<Channel>,
  session: Session,
  store: ShardStore,
): Promise<MovedSession | null> {
  const deliveries: MovedDelivery[] = [];
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
      if (row.phase === Phase.Pubrel || row.body === null) continue;
      deliveries.push({
        m: encodeBase64(row.body),
        qos: row.qos,
        retain: row.retain,
        ids: row.subIds,
        ...(row.shared ? { shared: row.shared } : {}),
      });
    }
  }
  const moved = movedOf(session, deliveries);
  registry.discard(session.clientId);
  return moved;
}

/** Subscribes `session` as the moved one was (routes announced) and queues its deliveries. */
export function importSession(
  broker: Broker,
  session: Session,
  moved: MovedSession,
  now: number,
): void {
  for (const [filter, opts] of moved.subscriptions) broker.subscribe(session, filter, opts);
  for (const d of moved.deliveries) {
    session.deliver({
      message: decodeMessage(decodeBase64(d.m)),
      qos: d.qos,
      retain: d.retain,
      subscriptionIds: d.ids,
      ...(d.shared === undefined ? {} : { shared: d.shared }),
    }, now);
  }
}
