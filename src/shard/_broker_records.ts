/**
 * How one shard's Broker applies the records it receives: from peer shards (routed publishes,
 * route and membership changes, shared deliveries, retained stores, lookups and answers) and the
 * cluster records the supervisor hands on from other nodes. Private to src/shard/; decodes and
 * calls, holds no state: the Broker's parts are reached through BrokerRecordTarget.
 */

import {
  decodeNodeMember,
  decodeNodeRoute,
  decodeRemoteShared,
  FieldReader,
  RecordKind,
} from "../ipc/mod.ts";
import { decodeMessage, type Message } from "../mqtt/mod.ts";
import type { ShardStore } from "./durable.ts";
import type { NodeRouting } from "./node_routing.ts";
import type { RouteTable } from "./route_table.ts";
import type { SharedSubs } from "./shared_subs.ts";
import { decodeMembership, decodeSharedDelivery } from "./_records.ts";
import type { BrokerRetained } from "./_broker_retained.ts";
import type { SharedDelivery } from "./_shared_delivery.ts";

/** The Broker's parts a record changes. */
export interface BrokerRecordTarget {
  readonly routes: RouteTable;
  readonly shared: SharedSubs;
  readonly nodes: NodeRouting;
  readonly retained: BrokerRetained;
  readonly sharedDelivery: SharedDelivery;
  /** The shard's store end (durable mode); null or undefined when nothing is stored. */
  store(): ShardStore | null | undefined;
  /** Broker.dispatch: to this shard's subscribers only. */
  dispatch(message: Message): void;
  /** Broker.dispatchRemote: a message forwarded by another node. */
  dispatchRemote(message: Message): void;
}

/** Applies one record from a peer shard. Returns false for kinds it does not own. */
export function applyPeerRecord(
  target: BrokerRecordTarget,
  from: number,
  kind: number,
  payload: Uint8Array,
): boolean {
  switch (kind) {
    case RecordKind.RoutedPublish:
      target.dispatch(decodeMessage(payload));
      return true;
    case RecordKind.RoutedPublishToken:
      underToken(target, payload, (rest) => target.dispatch(decodeMessage(rest)));
      return true;
    case RecordKind.RouteAdd:
      target.routes.add(new FieldReader(payload).str(), from);
      return true;
    case RecordKind.RouteRemove:
      target.routes.remove(new FieldReader(payload).str(), from);
      return true;
    case RecordKind.SharedJoin: {
      const m = decodeMembership(payload);
      target.shared.join(m.group, m.filter, {
        clientId: m.clientId,
        shard: from,
        subscription: m.subscription,
      });
      return true;
    }
    case RecordKind.SharedLeave: {
      const m = decodeMembership(payload);
      target.shared.leave(m.group, m.filter, m.clientId);
      return true;
    }
    case RecordKind.SharedDeliver: {
      const d = decodeSharedDelivery(payload);
      target.sharedDelivery.deliver(d.clientId, d.subscription, decodeMessage(d.message), d.hops);
      return true;
    }
    case RecordKind.SharedDeliverToken:
      // The member's queue or inflight row is this shard's part of the token. A member that
      // left meanwhile passes the message on outside it (the part is then empty): the
      // publisher's PUBACK does not wait for that hop.
      underToken(target, payload, (rest) => {
        const d = decodeSharedDelivery(rest);
        target.sharedDelivery.deliver(
          d.clientId,
          d.subscription,
          decodeMessage(d.message),
          d.hops,
        );
      });
      return true;
    case RecordKind.RetainStore:
      target.retained.retain(decodeMessage(payload));
      return true;
    case RecordKind.RetainQuery:
      // Answered by answerQueries() once every peer ring of this pass is drained: a store
      // committed on another ring before the query was sent is applied first (DESIGN.md,
      // "answer queries last").
      target.retained.queried(from, payload);
      return true;
    case RecordKind.RetainAnswer:
      target.retained.answered(payload);
      return true;
    default:
      return false;
  }
}

/** Applies one cluster record from the supervisor; false for kinds it does not own. */
export function applyClusterRecord(
  target: BrokerRecordTarget,
  kind: number,
  payload: Uint8Array,
): boolean {
  switch (kind) {
    case RecordKind.NodeRoute: {
      const r = decodeNodeRoute(payload);
      for (const f of r.filters) target.nodes.remoteRoute(r.add, r.node, f);
      return true;
    }
    case RecordKind.NodeMember: {
      const { add, node, m } = decodeNodeMember(payload);
      if (add) {
        const member = { clientId: m.clientId, shard: -1, subscription: m.subscription, node };
        target.shared.join(m.group, m.filter, member);
      } else target.shared.leave(m.group, m.filter, m.clientId, node);
      return true;
    }
    case RecordKind.NodeReset: {
      const node = new FieldReader(payload).str();
      target.nodes.resetNode(node);
      target.shared.removeNode(node);
      return true;
    }
    case RecordKind.RemotePublish:
      target.dispatchRemote(decodeMessage(payload));
      return true;
    case RecordKind.RemoteShared: {
      const d = decodeRemoteShared(payload);
      target.sharedDelivery.deliver(d.clientId, d.subscription, decodeMessage(d.message), d.hops);
      return true;
    }
    case RecordKind.RemoteRetain:
      target.retained.storeRemote(decodeMessage(payload));
      return true;
    case RecordKind.TakeoverAnswer: {
      const r = new FieldReader(payload);
      target.nodes.answer(r.u32(), r.str(), r.str());
      return true;
    }
    case RecordKind.RouteSyncAnswer:
      target.nodes.answer(new FieldReader(payload).u32(), "", "");
      return true;
    default:
      return false;
  }
}

/**
 * Durable mode: runs `apply` on what follows a record's commit token (str key, u32 parts), with
 * this shard's store ops in that token's part.
 */
function underToken(
  target: BrokerRecordTarget,
  payload: Uint8Array,
  apply: (rest: Uint8Array) => void,
): void {
  const r = new FieldReader(payload);
  const token = { key: r.str(), parts: r.u32() };
  const store = target.store();
  store?.beginToken(token);
  try {
    apply(payload.subarray(r.offset));
  } finally {
    store?.endToken(); // an open token holds every flush of this shard
  }
}
