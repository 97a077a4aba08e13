/**
 * Outbound PUBLISH encoder: the hot path of every delivery, written by hand instead of going
 * through mqtt-packet's generic generator. It writes straight into one Uint8Array, keeps MQTT 5
 * user properties in their exact order (mqtt-packet's object form groups them by name), and
 * caches the UTF-8 bytes of recent topics.
 */

import type { Message } from "./message.ts";
import { varIntSize, writeVarInt } from "./_varint.ts";

/** Per-subscriber fields of one outgoing PUBLISH. */
export interface PublishFields {
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly dup: boolean;
  /** Ignored for QoS 0. */
  readonly packetId: number;
  /** 3, 4 or 5; properties are written only for 5. */
  readonly protocolVersion: number;
  /** Topic alias to send (0 = none). */
  readonly topicAlias?: number;
  /** Send the alias with an empty topic name (the client knows it already). */
  readonly aliasOnly?: boolean;
  readonly subscriptionIds?: readonly number[];
  /** Remaining Message Expiry Interval in seconds (0 = none). */
  readonly expirySeconds?: number;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * UTF-8 of recently sent topics, keyed by the topic string: the same topics go out again and
 * again (fan-out, and routed copies of one message that arrive as distinct objects). Bounded:
 * emptied when full, which costs one re-encoding per topic.
 */
const topicCache = new Map<string, Uint8Array>();
const TOPIC_CACHE_MAX = 4096;

function topicBytes(m: Message): Uint8Array {
  let b = topicCache.get(m.topic);
  if (!b) {
    if (topicCache.size >= TOPIC_CACHE_MAX) topicCache.clear();
    b = encoder.encode(m.topic);
    topicCache.set(m.topic, b);
  }
  return b;
}

/**
 * Encodes one PUBLISH packet for `m` with the per-subscriber `f`. With `payloadApart`, the
 * result ends before the payload (the remaining length still counts it): the caller sends
 * `m.payload` right after it, so a big payload is not copied (see {@linkcode payloadApart}).
 *
 * @example
 * ```ts
 * import { encodePublish } from "./publish_encoder.ts";
 * import assert from "node:assert/strict";
 * const m = { topic: "a", payload: new Uint8Array([1]), qos: 0, retain: false, properties: {},
 *   origin: "", expiresAt: 0, timestamp: 0 } as const;
 * const b = encodePublish(m, { qos: 0, retain: false, dup: false, packetId: 0, protocolVersion: 4 });
 * assert.ok(b[0] === 0x30 && b.length === 6);
 * ```
 */
export function encodePublish(m: Message, f: PublishFields, payloadApart = false): Uint8Array {
  const topic = f.aliasOnly ? EMPTY : topicBytes(m);
  const v5 = f.protocolVersion === 5;
  const p = m.properties;
  // Property block (MQTT 5 section 3.3.2.3): sizes first, then one pass of writes.
  let props: (string | Uint8Array)[] | null = null;
  let propLen = 0;
  if (v5) {
    props = [];
    if (p.payloadFormatIndicator !== undefined) propLen += 2;
    if (f.expirySeconds) propLen += 5;
    if (f.topicAlias) propLen += 3;
    if (p.responseTopic !== undefined) {
      const b = encoder.encode(p.responseTopic);
      props.push(b);
      propLen += 3 + b.length;
    }
    if (p.correlationData !== undefined) propLen += 3 + p.correlationData.length;
    if (p.userProperties) {
      for (const [k, v] of p.userProperties) {
        const kb = encoder.encode(k);
        const vb = encoder.encode(v);
        props.push(kb, vb);
        propLen += 5 + kb.length + vb.length;
      }
    }
    for (const id of f.subscriptionIds ?? []) propLen += 1 + varIntSize(id);
    if (p.contentType !== undefined) {
      const b = encoder.encode(p.contentType);
      props.push(b);
      propLen += 3 + b.length;
    }
  }
  const remaining = 2 + topic.length + (f.qos > 0 ? 2 : 0) +
    (v5 ? varIntSize(propLen) + propLen : 0) + m.payload.length;
  const size = 1 + varIntSize(remaining) + remaining;
  const out = new Uint8Array(payloadApart ? size - m.payload.length : size);
  out[0] = 0x30 | (f.dup && f.qos > 0 ? 0x08 : 0) | (f.qos << 1) | (f.retain ? 1 : 0);
  let o = writeVarInt(out, 1, remaining);
  out[o++] = topic.length >> 8;
  out[o++] = topic.length & 0xff;
  out.set(topic, o);
  o += topic.length;
  if (f.qos > 0) {
    out[o++] = f.packetId >> 8;
    out[o++] = f.packetId & 0xff;
  }
  if (props) {
    o = writeVarInt(out, o, propLen);
    let i = 0;
    const nextBytes = () => props![i++] as Uint8Array;
    if (p.payloadFormatIndicator !== undefined) {
      out[o++] = 0x01;
      out[o++] = p.payloadFormatIndicator ? 1 : 0;
    }
    if (f.expirySeconds) {
      out[o++] = 0x02;
      new DataView(out.buffer).setUint32(o, f.expirySeconds);
      o += 4;
    }
    if (f.topicAlias) {
      out[o++] = 0x23;
      out[o++] = f.topicAlias >> 8;
      out[o++] = f.topicAlias & 0xff;
    }
    if (p.responseTopic !== undefined) o = writeBinary(out, o, 0x08, nextBytes());
    if (p.correlationData !== undefined) o = writeBinary(out, o, 0x09, p.correlationData);
    for (let n = p.userProperties?.length ?? 0; n > 0; n--) {
      o = writeBinary(out, o, 0x26, nextBytes());
      const vb = nextBytes();
      out[o++] = vb.length >> 8;
      out[o++] = vb.length & 0xff;
      out.set(vb, o);
      o += vb.length;
    }
    for (const id of f.subscriptionIds ?? []) {
      out[o++] = 0x0b;
      o = writeVarInt(out, o, id);
    }
    if (p.contentType !== undefined) o = writeBinary(out, o, 0x03, nextBytes());
  }
  if (!payloadApart) out.set(m.payload, o);
  return out;
}

/** Payloads from this size on are sent apart from their header. */
const APART_FROM = 64 * 1024;

/**
 * True when `m`'s payload should go out as its own part behind {@linkcode encodePublish}'s header
 * instead of being copied into one packet buffer: a 64 MB message then costs no copy per
 * subscriber before the ring. Small payloads are copied: one part is cheaper than two.
 *
 * @example
 * ```ts
 * import { payloadApart } from "./publish_encoder.ts";
 * import assert from "node:assert/strict";
 * assert.ok(!payloadApart({ payload: new Uint8Array(10) }));
 * ```
 */
export function payloadApart(m: Pick<Message, "payload">): boolean {
  return m.payload.length >= APART_FROM;
}

/** Property id, u16 length, bytes. */
function writeBinary(out: Uint8Array, o: number, id: number, b: Uint8Array): number {
  out[o++] = id;
  out[o++] = b.length >> 8;
  out[o++] = b.length & 0xff;
  out.set(b, o);
  return o + b.length;
}
