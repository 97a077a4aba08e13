/**
 * Message: the immutable application message a shard routes (topic, payload view, QoS, retain,
 * the v5 properties that travel with it, publisher id for no-local, expiry). Also its compact
 * binary form for ring records (routed-publish, retained store) and the properties of an outbound
 * PUBLISH (the conversions from an inbound PUBLISH or will are in message_from.ts). Pure data and
 * functions; the binary format is versioned here (MESSAGE_FORMAT_VERSION) and never edited once
 * released.
 *
 * @module
 */

import { LeReader, LeWriter, utf8Length } from "./_le.ts";

/** The v5 properties that pass from publisher to subscribers unchanged [MQTT-3.3.2-4]. */
export interface MessageProperties {
  readonly payloadFormatIndicator?: boolean;
  readonly contentType?: string;
  readonly responseTopic?: string;
  readonly correlationData?: Uint8Array;
  /** In wire order, duplicates kept [MQTT-3.3.2-17]. */
  readonly userProperties?: readonly (readonly [string, string])[];
}

/** An application message. Shared by reference inside an isolate; the payload is never copied. */
export interface Message {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly properties: MessageProperties;
  /** Client id of the publisher, for no-local. */
  readonly origin: string;
  /** Epoch ms after which the message is dropped; 0 = never. */
  readonly expiresAt: number;
  /** Epoch ms when the broker received it. */
  readonly timestamp: number;
  /**
   * The topic's UTF-8 bytes, when the message was decoded from bytes that hold them (a view, no
   * copy): the PUBLISH encoder uses them instead of encoding the topic again. Valid only while
   * `topicBytesOf` is `topic` (a copy made with another topic, `{ ...m, topic }`, keeps the old
   * pair, which the encoder then ignores).
   */
  readonly topicBytes?: Uint8Array;
  readonly topicBytesOf?: string;
}

/** Version byte leading every encoded message. */
export const MESSAGE_FORMAT_VERSION = 1;

const F_RETAIN = 0x04, F_PFI = 0x08, F_PFI_UTF8 = 0x10, F_CTYPE = 0x20, F_RTOPIC = 0x40;
const F_CDATA = 0x80;
const F2_UPROPS = 0x01;

/**
 * Encodes a message for a ring record: `[u8 version][u8 flags][u8 flags2][f64 expiresAt]
 * [f64 timestamp][str topic][str origin][optional properties][u32 len + payload]`, little-endian,
 * strings as u16 length + UTF-8.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage, type Message } from "./message.ts";
 * import assert from "node:assert/strict";
 * const m: Message = {
 *   topic: "a/b", payload: new Uint8Array([1]), qos: 1, retain: false,
 *   properties: { userProperties: [["k", "v"]] }, origin: "c1", expiresAt: 0, timestamp: 1,
 * };
 * assert.ok(decodeMessage(encodeMessage(m)).properties.userProperties?.[0]?.[1] === "v");
 * ```
 */
export function encodeMessage(m: Message, alloc?: (size: number) => Uint8Array): Uint8Array {
  return encode(m, true, alloc);
}

/**
 * The bytes of {@linkcode encodeMessage} as two parts: everything before the payload, and the
 * payload itself (the message's own view, not a copy). A ring writer gathers the parts, so a
 * routed 64 MB message is copied once, into the ring, instead of into a record first. `alloc`
 * as for {@linkcode encodeMessage}: where the first part is written.
 *
 * @example
 * ```ts
 * import { encodeMessage, encodeMessageParts, type Message } from "./message.ts";
 * import assert from "node:assert/strict";
 * const m: Message = {
 *   topic: "a", payload: new Uint8Array([1, 2]), qos: 0, retain: false, properties: {},
 *   origin: "", expiresAt: 0, timestamp: 0,
 * };
 * const [head, payload] = encodeMessageParts(m);
 * assert.ok(payload === m.payload && head.length + 2 === encodeMessage(m).length);
 * ```
 */
export function encodeMessageParts(
  m: Message,
  alloc?: (size: number) => Uint8Array,
): [Uint8Array, Uint8Array] {
  return [encode(m, false, alloc), m.payload];
}

/** `alloc`: where to write the `size` bytes (a view of a caller's arena); a new buffer without. */
function encode(
  m: Message,
  withPayload: boolean,
  alloc?: (size: number) => Uint8Array,
): Uint8Array {
  const p = m.properties;
  const topicLen = utf8Length(m.topic);
  const originLen = utf8Length(m.origin);
  let size = 3 + 16 + 2 + topicLen + 2 + originLen + 4 + (withPayload ? m.payload.length : 0);
  let flags = m.qos | (m.retain ? F_RETAIN : 0);
  let flags2 = 0;
  if (p.payloadFormatIndicator !== undefined) {
    flags |= F_PFI | (p.payloadFormatIndicator ? F_PFI_UTF8 : 0);
  }
  const ctypeLen = p.contentType === undefined ? -1 : utf8Length(p.contentType);
  const rtopicLen = p.responseTopic === undefined ? -1 : utf8Length(p.responseTopic);
  if (ctypeLen >= 0) {
    flags |= F_CTYPE;
    size += 2 + ctypeLen;
  }
  if (rtopicLen >= 0) {
    flags |= F_RTOPIC;
    size += 2 + rtopicLen;
  }
  if (p.correlationData !== undefined) {
    flags |= F_CDATA;
    size += 4 + p.correlationData.length;
  }
  const ups = p.userProperties;
  const upLens: number[] = [];
  if (ups !== undefined) {
    flags2 |= F2_UPROPS;
    size += 4;
    for (const [k, v] of ups) {
      const kl = utf8Length(k), vl = utf8Length(v);
      upLens.push(kl, vl);
      size += 4 + kl + vl;
    }
  }
  const w = new LeWriter(size, alloc?.(size));
  w.u8(MESSAGE_FORMAT_VERSION);
  w.u8(flags);
  w.u8(flags2);
  w.f64(m.expiresAt);
  w.f64(m.timestamp);
  w.str(m.topic, topicLen);
  w.str(m.origin, originLen);
  if (p.contentType !== undefined) w.str(p.contentType, ctypeLen);
  if (p.responseTopic !== undefined) w.str(p.responseTopic, rtopicLen);
  if (p.correlationData !== undefined) w.bytes(p.correlationData);
  if (ups !== undefined) {
    w.u32(ups.length);
    ups.forEach(([k, v], i) => {
      w.str(k, upLens[2 * i]!);
      w.str(v, upLens[2 * i + 1]!);
    });
  }
  if (withPayload) w.bytes(m.payload);
  else w.u32(m.payload.length);
  return w.buf;
}

/**
 * Decodes what {@linkcode encodeMessage} wrote. Payload and correlation data are views into `b`
 * (no copy). Throws SyntaxError on an unknown version or a truncated record. `knownTopic`: the
 * topic as the caller already has it (a retained row's topic column, written with these bytes),
 * used instead of decoding the topic again; it must be the encoded message's topic.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage } from "./message.ts";
 * import assert from "node:assert/strict";
 * const b = encodeMessage({
 *   topic: "温度/1", payload: new Uint8Array(0), qos: 0, retain: true, properties: {},
 *   origin: "", expiresAt: 0, timestamp: 0,
 * });
 * assert.ok(decodeMessage(b).topic === "温度/1");
 * ```
 */
export function decodeMessage(b: Uint8Array, knownTopic?: string): Message {
  const r = new LeReader(b);
  const version = r.u8();
  if (version !== MESSAGE_FORMAT_VERSION) {
    throw new SyntaxError(`Cannot decode message: unknown format version ${version}`);
  }
  const flags = r.u8();
  const flags2 = r.u8();
  const qos = flags & 3;
  if (qos === 3) throw new SyntaxError("Cannot decode message: QoS 3");
  const expiresAt = r.f64();
  const timestamp = r.f64();
  const topicAt = r.pos + 2;
  let topic: string;
  if (knownTopic === undefined) topic = r.str();
  else {
    r.skipStr();
    topic = knownTopic;
  }
  const topicBytes = b.subarray(topicAt, r.pos);
  const origin = r.str();
  const props: {
    payloadFormatIndicator?: boolean;
    contentType?: string;
    responseTopic?: string;
    correlationData?: Uint8Array;
    userProperties?: [string, string][];
  } = {};
  if (flags & F_PFI) props.payloadFormatIndicator = (flags & F_PFI_UTF8) !== 0;
  if (flags & F_CTYPE) props.contentType = r.str();
  if (flags & F_RTOPIC) props.responseTopic = r.str();
  if (flags & F_CDATA) props.correlationData = r.bytes();
  if (flags2 & F2_UPROPS) {
    const count = r.u32();
    const list: [string, string][] = [];
    for (let i = 0; i < count; i++) list.push([r.str(), r.str()]);
    props.userProperties = list;
  }
  const payload = r.bytes();
  return {
    topic,
    payload,
    qos: qos as 0 | 1 | 2,
    retain: (flags & F_RETAIN) !== 0,
    properties: props,
    origin,
    expiresAt,
    timestamp,
    topicBytes,
    topicBytesOf: topic,
  };
}

/**
 * True once the message's expiry has passed [MQTT-3.3.2-5]; messages without expiry never expire.
 *
 * @example
 * ```ts
 * import { isExpired } from "./message.ts";
 * import assert from "node:assert/strict";
 * assert.ok(!isExpired({ expiresAt: 0 }, 5) && isExpired({ expiresAt: 5 }, 5));
 * ```
 */
export function isExpired(m: Pick<Message, "expiresAt">, now: number): boolean {
  return m.expiresAt !== 0 && now >= m.expiresAt;
}

/**
 * The Message Expiry Interval to send with `m`: the time left in seconds, rounded up
 * [MQTT-3.3.2-6], at least 1 (drop expired messages with {@linkcode isExpired} first); 0 when the
 * message does not expire.
 *
 * @example
 * ```ts
 * import { remainingExpirySeconds } from "./message.ts";
 * import assert from "node:assert/strict";
 * assert.ok(remainingExpirySeconds({ expiresAt: 10_500 }, 1_000) === 10);
 * ```
 */
export function remainingExpirySeconds(m: Pick<Message, "expiresAt">, now: number): number {
  return m.expiresAt === 0 ? 0 : Math.max(1, Math.ceil((m.expiresAt - now) / 1000));
}
