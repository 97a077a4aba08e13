/**
 * A moving session's form (issue 15, takeover across nodes; _session_move.ts runs the move): the
 * JSON it travels as, made from a session in memory or from a durable session's rows in the store
 * (read on until its last row, bounded), and turned back into deliveries. Private to src/shard/;
 * reads, holds nothing.
 */

import { decodeBase64, encodeBase64 } from "../bytes.ts";
import { decodeMessage, encodeMessage } from "../mqtt/mod.ts";
import { Phase } from "../store/mod.ts";
import type { Channel } from "./channel.ts";
import type { Delivery } from "./delivery.ts";
import type { ShardStore } from "./durable.ts";
import type { Session, SubOptions } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";

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

/** TAKEOVER_END's answer (JSON): what reached the old node after the export, in arrival order. */
export interface MovedPendings {
  readonly deliveries: readonly MovedDelivery[];
}

/** An inflight entry: "publish" awaits PUBACK/PUBREC (carries the message), "pubrel" PUBCOMP. */
export interface MovedInflight {
  readonly id: number;
  readonly phase: "publish" | "pubrel";
  readonly d?: MovedDelivery;
}

/** A delivery as it travels. */
export interface MovedDelivery {
  /** The encoded Message, base64. */
  readonly m: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly ids: readonly number[];
  readonly shared?: string;
}

/** A Delivery in its JSON form. */
export function movedDelivery(d: Delivery): MovedDelivery {
  return {
    m: encodeBase64(encodeMessage(d.message)),
    qos: d.qos,
    retain: d.retain,
    ids: d.subscriptionIds,
    ...(d.shared === undefined ? {} : { shared: d.shared }),
  };
}

/** The JSON form of `session` with what was read of its deliveries. */
export function movedOf(
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

/** A Delivery back from its JSON form. */
export function deliveryOf(d: MovedDelivery): Delivery {
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

/** What a read of a durable session's rows found. */
export interface RowsRead {
  readonly deliveries: MovedDelivery[];
  readonly inflight: MovedInflight[];
  readonly afterSeq: number;
}

/**
 * Reads every row of the durable session and its inbound ids awaiting PUBREL (BEGIN); the rows
 * stay (the session collects pendings after them). Null when the session went meanwhile.
 */
export async function exportDurable(
  registry: SessionRegistry<Channel>,
  session: Session,
  store: ShardStore,
): Promise<(RowsRead & { rels: [number, number][] }) | null> {
  const durableAtStart = session.durable;
  // Ids awaiting PUBREL are in memory once the client connected, else only in the store.
  const rels: [number, number][] = !durableAtStart || durableAtStart.relLoaded
    ? [...session.awaitingRel]
    : (await store.readAsync({ kind: "awaitingRel", sid: durableAtStart.sid })).map((
      r,
    ) => [r.packetId, r.receivedAt]);
  const read = await readRows(registry, session, store, 0);
  return read && { ...read, rels };
}

/**
 * Reads the session's rows after `afterSeq` (those written while reading too: it reads on until
 * it has the session's last row). Sent rows come as inflight with their packet ids (a PUBREL
 * phase row without its message), queued ones as deliveries.
 */
export async function readRows(
  registry: SessionRegistry<Channel>,
  session: Session,
  store: ShardStore,
  afterSeq: number,
): Promise<RowsRead | null> {
  const deliveries: MovedDelivery[] = [];
  const inflight: MovedInflight[] = [];
  let after = afterSeq;
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
  return { deliveries, inflight, afterSeq: after };
}
