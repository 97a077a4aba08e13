/**
 * Payload codecs of the shard→shard records the Broker exchanges. Private to src/shard/; the
 * field order here is part of ring record format version 1 (src/ipc/record.ts).
 */

import { FieldReader, FieldWriter } from "../ipc/mod.ts";

/** RouteAdd / RouteRemove: the filter. */
export function encodeFilter(filter: string): Uint8Array {
  return new FieldWriter().str(filter).finish();
}

/** SharedJoin / SharedLeave: group, filter, client id, subscription (join only). */
export interface SharedMembership {
  readonly group: string;
  readonly filter: string;
  readonly clientId: string;
  readonly subscription: string;
}

export function encodeMembership(m: SharedMembership): Uint8Array {
  return new FieldWriter().str(m.group).str(m.filter).str(m.clientId).str(m.subscription)
    .finish();
}

export function decodeMembership(payload: Uint8Array): SharedMembership {
  const r = new FieldReader(payload);
  return { group: r.str(), filter: r.str(), clientId: r.str(), subscription: r.str() };
}

/** SharedDeliver: the picked member, its subscription, hops so far, and the message. */
export interface SharedDelivery {
  readonly clientId: string;
  readonly subscription: string;
  readonly hops: number;
  readonly message: Uint8Array;
}

export function encodeSharedDelivery(d: SharedDelivery): Uint8Array {
  return new FieldWriter().str(d.clientId).str(d.subscription).u8(d.hops).bytes(d.message)
    .finish();
}

export function decodeSharedDelivery(payload: Uint8Array): SharedDelivery {
  const r = new FieldReader(payload);
  return { clientId: r.str(), subscription: r.str(), hops: r.u8(), message: r.bytes() };
}
