/**
 * Messages from decoded packets: an inbound PUBLISH or a CONNECT's will as a Message (payload a
 * view, expiry made absolute, user properties in wire order), and mqtt-packet's user property
 * object as an ordered list. Pure functions; the Message record itself is message.ts.
 *
 * @module
 */

import {
  type IConnectPacket,
  type IPublishPacket,
  type UserProperties,
  userPropertiesOf,
} from "./codec.ts";
import type { Message, MessageProperties } from "./message.ts";

const encoder = new TextEncoder();

/**
 * The ordered list form of mqtt-packet's user property object. mqtt-packet groups duplicates of a
 * name into an array, so the interleaving of different names on the wire (a, b, a) is lost: the
 * result is grouped by name (a, a, b), each name's values in wire order.
 *
 * @example
 * ```ts
 * import { fromUserProperties } from "./message_from.ts";
 * import assert from "node:assert/strict";
 * assert.ok(fromUserProperties({ a: ["1", "3"], b: "2" }).length === 3);
 * ```
 */
export function fromUserProperties(obj: UserProperties): [string, string][] {
  const list: [string, string][] = [];
  for (const k of Object.keys(obj)) {
    const v: unknown = obj[k];
    if (typeof v === "string") list.push([k, v]);
    else if (Array.isArray(v)) { for (const x of v) list.push([k, String(x)]); }
  }
  return list;
}

/**
 * Builds a Message from a decoded PUBLISH. The payload stays a view into the received bytes;
 * expiry becomes an absolute time from `now` (epoch ms). `topic` replaces the packet's (a
 * resolved topic alias, or the target of a delayed publish).
 *
 * @example
 * ```ts
 * import { fromPublishPacket } from "./message_from.ts";
 * import assert from "node:assert/strict";
 * const m = fromPublishPacket({
 *   cmd: "publish", topic: "a/b", payload: "hi", qos: 0, dup: false, retain: false,
 *   properties: { messageExpiryInterval: 60, userProperties: { k: "v" } },
 * }, "client-1", 1_000);
 * assert.ok(m.expiresAt === 61_000 && m.properties.userProperties?.[0]?.[0] === "k");
 * ```
 */
export function fromPublishPacket(
  packet: IPublishPacket,
  origin: string,
  now: number,
  topic: string = packet.topic,
): Message {
  return {
    topic,
    payload: bytesOf(packet.payload),
    qos: packet.qos,
    retain: packet.retain,
    properties: propertiesFrom(packet, packet.properties),
    origin,
    expiresAt: expiryFrom(packet.properties, now),
    timestamp: now,
  };
}

/**
 * The will of a decoded CONNECT as a Message (null without a will); its properties pass on as a
 * PUBLISH's would [MQTT-3.1.3-10]. The Will Delay Interval is the caller's to read.
 *
 * @example
 * ```ts
 * import { fromWill } from "./message_from.ts";
 * import assert from "node:assert/strict";
 * assert.ok(fromWill({ cmd: "connect", clientId: "c" }, "c", 0) === null);
 * ```
 */
export function fromWill(packet: IConnectPacket, origin: string, now: number): Message | null {
  const w = packet.will;
  if (!w) return null;
  // A will lives as long as its connection: copy its bytes out of the received chunk rather than
  // keep the whole chunk alive through a view.
  const props = propertiesFrom(packet, w.properties);
  const cd = props.correlationData;
  return {
    topic: w.topic,
    payload: new Uint8Array(bytesOf(w.payload ?? new Uint8Array())), // a copy (Buffer#slice is not)
    qos: (w.qos ?? 0) as 0 | 1 | 2,
    retain: w.retain === true,
    properties: cd ? { ...props, correlationData: new Uint8Array(cd) } : props,
    origin,
    expiresAt: expiryFrom(w.properties, now),
    timestamp: now,
  };
}

/** The pass-through properties; user properties in wire order when the decoder kept them. */
function propertiesFrom(
  packet: IPublishPacket | IConnectPacket,
  pp: PassThrough | undefined,
): MessageProperties {
  const props: {
    payloadFormatIndicator?: boolean;
    contentType?: string;
    responseTopic?: string;
    correlationData?: Uint8Array;
    userProperties?: readonly (readonly [string, string])[];
  } = {};
  if (pp === undefined) return props;
  if (pp.payloadFormatIndicator !== undefined) {
    props.payloadFormatIndicator = pp.payloadFormatIndicator;
  }
  if (pp.contentType !== undefined) props.contentType = pp.contentType;
  if (pp.responseTopic !== undefined) props.responseTopic = pp.responseTopic;
  if (pp.correlationData !== undefined) props.correlationData = pp.correlationData;
  if (pp.userProperties !== undefined) {
    props.userProperties = userPropertiesOf(packet) ?? fromUserProperties(pp.userProperties);
  }
  return props;
}

function expiryFrom(pp: PassThrough | undefined, now: number): number {
  const seconds = pp?.messageExpiryInterval;
  return seconds === undefined ? 0 : now + seconds * 1000;
}

function bytesOf(payload: string | Uint8Array): Uint8Array {
  return typeof payload === "string" ? encoder.encode(payload) : payload;
}

/** The properties a PUBLISH and a will have in common. */
interface PassThrough {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  userProperties?: UserProperties;
}
