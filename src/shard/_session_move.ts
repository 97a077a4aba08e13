/**
 * A persistent session moving between nodes (issue 15, takeover across nodes): the old node
 * exports it (subscriptions with their options, the deliveries the client has not surely
 * received, its expiry) as JSON and forgets it; the new node imports it into the session it just
 * opened, before CONNACK. Private to src/shard/. What does not move yet: QoS 2 packet ids waiting
 * for PUBREL (inbound) and the second half of outbound QoS 2 (docs/cluster.md).
 */

import { decodeBase64, encodeBase64 } from "../bytes.ts";
import { decodeMessage, encodeMessage, ReasonCode } from "../mqtt/mod.ts";
import type { Broker } from "./broker.ts";
import type { Session, SubOptions } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { Channel } from "./channel.ts";

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
 * Null when this shard has no session of that id.
 */
export function exportSession(
  registry: SessionRegistry<Channel>,
  broker: Broker,
  clientId: string,
): MovedSession | null {
  const ch = registry.channelOf(clientId);
  if (ch) {
    const will = ch.takeWill();
    ch.disconnect(ReasonCode.SessionTakenOver, "takenover");
    if (will && will.delayMs === 0) broker.publish(will.message, "will");
  }
  const session = registry.get(clientId);
  if (!session) return null;
  const moved: MovedSession = {
    expiry: session.expiryInterval === Infinity ? null : session.expiryInterval,
    subscriptions: [...session.subscriptions],
    deliveries: session.takePending().map((d) => ({
      m: encodeBase64(encodeMessage(d.message)),
      qos: d.qos,
      retain: d.retain,
      ids: d.subscriptionIds,
      ...(d.shared === undefined ? {} : { shared: d.shared }),
    })),
  };
  registry.discard(clientId);
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
