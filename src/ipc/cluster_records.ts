/**
 * Payload codecs of the cluster records between the supervisor and the shards (issue 15; kinds
 * 40-51 in record.ts). Shared by src/cluster/ (supervisor side) and src/shard/ so that both ends
 * agree on field order. Messages are opaque bytes here (the Message format of src/mqtt/).
 */

import { FieldReader, FieldWriter } from "./record.ts";

/** A shared-subscription membership as the cluster records carry it. */
export interface SharedKey {
  readonly group: string;
  readonly filter: string;
  readonly clientId: string;
  readonly subscription: string;
}

/**
 * ClusterRoute (op, filter).
 *
 * @example
 * ```ts
 * import { decodeOpFilter, encodeOpFilter } from "./cluster_records.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeOpFilter(encodeOpFilter(true, "a/#")), { add: true, filter: "a/#" });
 * ```
 */
export function encodeOpFilter(add: boolean, filter: string): Uint8Array {
  return new FieldWriter().u8(add ? 1 : 0).str(filter).finish();
}

export function decodeOpFilter(b: Uint8Array): { add: boolean; filter: string } {
  const r = new FieldReader(b);
  return { add: r.u8() === 1, filter: r.str() };
}

/** ClusterShared (op, membership). */
export function encodeOpShared(add: boolean, m: SharedKey): Uint8Array {
  return new FieldWriter().u8(add ? 1 : 0).str(m.group).str(m.filter).str(m.clientId)
    .str(m.subscription).finish();
}

export function decodeOpShared(b: Uint8Array): { add: boolean; m: SharedKey } {
  const r = new FieldReader(b);
  const add = r.u8() === 1;
  return { add, m: { group: r.str(), filter: r.str(), clientId: r.str(), subscription: r.str() } };
}

/**
 * NodeRoute (op, node, count, filters): many filters per record, so that a peer's full set of
 * 100,000 routes is a few hundred records, not 100,000.
 *
 * @example
 * ```ts
 * import { decodeNodeRoute, encodeNodeRoute } from "./cluster_records.ts";
 * import assert from "node:assert/strict";
 * const r = decodeNodeRoute(encodeNodeRoute(false, "b@h", ["a/#", "c"]));
 * assert.deepEqual(r, { add: false, node: "b@h", filters: ["a/#", "c"] });
 * ```
 */
export function encodeNodeRoute(
  add: boolean,
  node: string,
  filters: readonly string[],
): Uint8Array {
  const w = new FieldWriter().u8(add ? 1 : 0).str(node).u32(filters.length);
  for (const f of filters) w.str(f);
  return w.finish();
}

export function decodeNodeRoute(b: Uint8Array): { add: boolean; node: string; filters: string[] } {
  const r = new FieldReader(b);
  const add = r.u8() === 1;
  const node = r.str();
  const n = r.u32();
  const filters: string[] = [];
  for (let i = 0; i < n; i++) filters.push(r.str());
  return { add, node, filters };
}

/** Filters per RouteAdd frame and NodeRoute record in a full set. */
export const ROUTES_PER_BATCH = 1000;

/** NodeMember (op, node, membership). */
export function encodeNodeMember(add: boolean, node: string, m: SharedKey): Uint8Array {
  return new FieldWriter().u8(add ? 1 : 0).str(node).str(m.group).str(m.filter).str(m.clientId)
    .str(m.subscription).finish();
}

export function decodeNodeMember(b: Uint8Array): { add: boolean; node: string; m: SharedKey } {
  const r = new FieldReader(b);
  const add = r.u8() === 1;
  const node = r.str();
  return {
    add,
    node,
    m: { group: r.str(), filter: r.str(), clientId: r.str(), subscription: r.str() },
  };
}

/**
 * The head of NodeForward (node, topic, message length): the message parts follow it, so a big
 * payload is copied into the ring straight from the message.
 */
export function nodeForwardHead(
  node: string,
  topic: string,
  messageLength: number,
  w: FieldWriter = new FieldWriter(),
): Uint8Array {
  return w.str(node).str(topic).u32(messageLength).finish();
}

/** The head of NodeShared (node, client id, subscription, hops, message length). */
export function nodeSharedHead(
  node: string,
  clientId: string,
  subscription: string,
  hops: number,
  messageLength: number,
): Uint8Array {
  return new FieldWriter().str(node).str(clientId).str(subscription).u8(hops).u32(messageLength)
    .finish();
}

/** The head of ClusterRetain (topic, message length). */
export function clusterRetainHead(topic: string, messageLength: number): Uint8Array {
  return new FieldWriter().str(topic).u32(messageLength).finish();
}

/** RemoteShared (client id, subscription, hops, message bytes): the head before the message. */
export function remoteSharedHead(
  clientId: string,
  subscription: string,
  hops: number,
  messageLength: number,
): Uint8Array {
  return new FieldWriter().str(clientId).str(subscription).u8(hops).u32(messageLength).finish();
}

export function decodeRemoteShared(
  b: Uint8Array,
): { clientId: string; subscription: string; hops: number; message: Uint8Array } {
  const r = new FieldReader(b);
  return { clientId: r.str(), subscription: r.str(), hops: r.u8(), message: r.bytes() };
}
