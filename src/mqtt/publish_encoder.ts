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
  // A decoded message carries its topic's bytes: no lookup, no encoding (a retained page of
  // 5,000 distinct topics would only churn the cache).
  if (m.topicBytesOf === m.topic && m.topicBytes !== undefined) return m.topicBytes;
  let b = topicCache.get(m.topic);
  if (!b) {
    if (topicCache.size >= TOPIC_CACHE_MAX) topicCache.clear();
    b = encoder.encode(m.topic);
    topicCache.set(m.topic, b);
  }
  return b;
}

/**
 * The layout of the last PUBLISH measured: {@linkcode publishSize} computes it and
 * {@linkcode encodePublish} / {@linkcode writePublish} reuse it for the same message and fields
 * objects (one measure per packet, with no allocation beyond the MQTT 5 strings).
 */
const layout = {
  m: null as Message | null,
  f: null as PublishFields | null,
  topic: EMPTY as Uint8Array,
  props: null as (string | Uint8Array)[] | null,
  propLen: 0,
  remaining: 0,
  size: 0,
};

function measure(m: Message, f: PublishFields): typeof layout {
  if (layout.m === m && layout.f === f) return layout;
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
  layout.m = m;
  layout.f = f;
  layout.topic = topic;
  layout.props = props;
  layout.propLen = propLen;
  layout.remaining = remaining;
  layout.size = 1 + varIntSize(remaining) + remaining;
  return layout;
}

/**
 * Bytes of the whole PUBLISH packet for `m` with `f`, payload included. Pass the same `m` and
 * `f` objects to {@linkcode writePublish} or {@linkcode encodePublish} right after: they reuse
 * this measure.
 *
 * @example
 * ```ts
 * import { publishSize } from "./publish_encoder.ts";
 * import assert from "node:assert/strict";
 * const m = { topic: "a", payload: new Uint8Array([1]), qos: 0, retain: false, properties: {},
 *   origin: "", expiresAt: 0, timestamp: 0 } as const;
 * assert.equal(publishSize(m, { qos: 0, retain: false, dup: false, packetId: 0, protocolVersion: 4 }), 6);
 * ```
 */
export function publishSize(m: Message, f: PublishFields): number {
  return measure(m, f).size;
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
  const l = measure(m, f);
  const out = new Uint8Array(payloadApart ? l.size - m.payload.length : l.size);
  write(m, f, l, out, payloadApart);
  return out;
}

/**
 * Writes the whole PUBLISH packet for `m` with `f` into `out`, which must be exactly
 * {@linkcode publishSize} bytes (a view into a larger buffer: the shard's outbound batches).
 *
 * @example
 * ```ts
 * import { publishSize, writePublish } from "./publish_encoder.ts";
 * import assert from "node:assert/strict";
 * const m = { topic: "a", payload: new Uint8Array([1]), qos: 0, retain: false, properties: {},
 *   origin: "", expiresAt: 0, timestamp: 0 } as const;
 * const f = { qos: 0, retain: false, dup: false, packetId: 0, protocolVersion: 4 } as const;
 * const out = new Uint8Array(publishSize(m, f));
 * writePublish(m, f, out);
 * assert.deepEqual([...out], [0x30, 4, 0, 1, 97, 1]);
 * ```
 */
export function writePublish(m: Message, f: PublishFields, out: Uint8Array): void {
  const l = measure(m, f);
  if (out.length !== l.size) {
    throw new RangeError(`PUBLISH of ${l.size} bytes given ${out.length} bytes to write into`);
  }
  write(m, f, l, out, false);
}

function write(
  m: Message,
  f: PublishFields,
  l: typeof layout,
  out: Uint8Array,
  payloadApart: boolean,
): void {
  const { topic, props, propLen, remaining } = l;
  // The layout's props are consumed below: a second write of the same pair measures again.
  layout.m = null;
  const p = m.properties;
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
    const nextBytes = () => props[i++] as Uint8Array;
    if (p.payloadFormatIndicator !== undefined) {
      out[o++] = 0x01;
      out[o++] = p.payloadFormatIndicator ? 1 : 0;
    }
    if (f.expirySeconds) {
      out[o++] = 0x02;
      new DataView(out.buffer, out.byteOffset).setUint32(o, f.expirySeconds);
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
