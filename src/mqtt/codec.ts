/**
 * The MQTT codec. PacketDecoder frames the byte stream of one connection itself (fixed header +
 * remaining length, size guard before any body is buffered), checks each whole packet with
 * _frame_check.ts, then builds the packet object in mqtt-packet's shape: the message-path types
 * (PUBLISH, the acks, PINGREQ) in _fast_decode.ts, every other type in _decode.ts. Both are pure
 * functions of the frame: the decoder's only state is the partial packet of its own connection,
 * so no connection's bytes can change how another's are decoded. encodePacket writes the acks and
 * PINGRESP itself and wraps mqtt-packet's generate for the rest (the only use of npm:mqtt-packet
 * at run time). Nothing here does I/O.
 *
 * @module
 */

import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { Buffer } from "node:buffer";
import { MqttError } from "./errors.ts";
import { checkFrame, type ProtocolVersion } from "./_frame_check.ts";
import { fastDecode } from "./_fast_decode.ts";
import { decodeFrame } from "./_decode.ts";
import { ReasonCode } from "./reason_codes.ts";

// mqtt-packet's encoder otherwise builds, on its first use in each isolate, a cache of 65,536
// two-byte Buffers (one per 16-bit number): 6.5 MiB of heap per isolate that is never freed,
// paid after start-up (the first CONNACK), so it showed as broker growth in the connections
// and fuzz benchmarks. Writing those numbers directly costs nothing measurable.
mqttPacket.writeToStream.cacheNumbers = false;

export type {
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPingreqPacket,
  IPingrespPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  IUnsubackPacket,
  IUnsubscribePacket,
  Packet,
  PacketCmd,
  QoS,
  UserProperties,
} from "mqtt-packet";
export type { ProtocolVersion };

/** One decoded packet, or the reason the connection must be closed. */
export type DecodeResult =
  | { readonly ok: true; readonly packet: Packet }
  | { readonly ok: false; readonly reasonCode: number; readonly message: string };

/** Options of {@linkcode PacketDecoder}. */
export interface PacketDecoderOptions {
  /** Largest remaining length accepted; above it the decoder fails with 0x95. */
  readonly maxPacketSize: number;
  /** Protocol level before a CONNECT is seen (default 4). */
  readonly protocolVersion?: ProtocolVersion;
}

/** First buffer of a packet split across reads, unless the packet is smaller. */
const MIN_PARTIAL = 256;

const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

/**
 * Incremental decoder for one connection. `push` takes the bytes as they arrive and returns every
 * packet they complete, in order. Whole packets inside a chunk are decoded in place (payloads are
 * views into the chunk, so do not reuse its memory); only a packet split across chunks is copied,
 * into a buffer that grows with the bytes received (at most four times what arrived, never sized
 * from the header's claim alone: a header announcing 256 MB allocates nothing of that until the bytes
 * come). After the first error the decoder is dead and returns nothing more. A decoded CONNECT
 * switches the decoder to that protocol level.
 *
 * @example
 * ```ts
 * import { PacketDecoder } from "./codec.ts";
 * import assert from "node:assert/strict";
 * const decoder = new PacketDecoder({ maxPacketSize: 1024 });
 * const [first] = decoder.push(new Uint8Array([0xc0, 0x00])); // PINGREQ
 * assert.ok(first?.ok === true && first.packet.cmd === "pingreq");
 * ```
 */
export class PacketDecoder {
  readonly #max: number;
  #version: ProtocolVersion;
  #dead = false;
  #state = HEADER;
  #type = 0;
  #remLen = 0;
  #lenBytes = 0;
  #mult = 1;
  /** The partial packet's bytes so far (fixed header included); capacity grows to #total. */
  #body: Uint8Array | null = null;
  #filled = 0;
  /** Whole size of the partial packet, fixed header included. */
  #total = 0;

  constructor(opts: PacketDecoderOptions) {
    this.#max = opts.maxPacketSize;
    this.#version = opts.protocolVersion ?? 4;
  }

  /** The protocol level in use: the CONNECT's once one was decoded. */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  /** True after an error: the connection must be closed. */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * True between packets: no partial packet held and no error. An idle decoder carries nothing
   * but its protocol level and limit, so a new one made with those continues the stream exactly.
   */
  get idle(): boolean {
    return this.#state === HEADER && !this.#dead;
  }

  /** Feeds bytes; returns the packets (and at most one final error) they complete. */
  push(chunk: Uint8Array): DecodeResult[] {
    const out: DecodeResult[] = [];
    const n = chunk.length;
    let pos = 0;
    let start = -1; // where the current packet began in this chunk, -1 if in an earlier one
    while (pos < n && !this.#dead) {
      if (this.#state === BODY) {
        const take = Math.min(this.#total - this.#filled, n - pos);
        const body = this.#room(this.#filled + take);
        body.set(chunk.subarray(pos, pos + take), this.#filled);
        this.#filled += take;
        pos += take;
        if (this.#filled === this.#total) this.#finish(out, body);
      } else if (this.#state === HEADER) {
        start = pos;
        this.#type = chunk[pos++]!;
        this.#remLen = 0;
        this.#lenBytes = 0;
        this.#mult = 1;
        this.#state = LENGTH;
      } else {
        const c = chunk[pos++]!;
        this.#remLen += (c & 0x7f) * this.#mult;
        this.#mult *= 128;
        this.#lenBytes++;
        if (c & 0x80) {
          // [MQTT-1.5.5] A Variable Byte Integer has at most 4 bytes.
          if (this.#lenBytes === 4) this.#fail(out, "remaining length is longer than 4 bytes");
          continue;
        }
        // [MQTT-1.5.5-1] The minimum number of bytes.
        if (this.#lenBytes > 1 && c === 0) {
          this.#fail(out, "remaining length is not minimally encoded");
        } else if (this.#remLen > this.#max) {
          // Refused from the header alone: the body is never buffered.
          this.#fail(
            out,
            `packet of ${this.#remLen} bytes exceeds the maximum of ${this.#max}`,
            ReasonCode.PacketTooLarge,
          );
        } else {
          const total = 1 + this.#lenBytes + this.#remLen;
          if (start >= 0 && start + total <= n) {
            pos = start + total;
            this.#finish(out, chunk.subarray(start, pos));
          } else {
            // Sized by what has arrived, not by what the header claims (a header alone must not
            // make the decoder allocate max_packet_size): #room grows it as bytes come.
            this.#total = total;
            const body = new Uint8Array(
              Math.min(total, Math.max(MIN_PARTIAL, 1 + this.#lenBytes + n - pos)),
            );
            body[0] = this.#type;
            for (let i = 1, v = this.#remLen; i <= this.#lenBytes; i++, v = Math.floor(v / 128)) {
              body[i] = (v % 128) | (i < this.#lenBytes ? 0x80 : 0);
            }
            this.#body = body;
            this.#filled = 1 + this.#lenBytes;
            this.#state = BODY;
            if (this.#filled === total) this.#finish(out, body);
          }
        }
      }
    }
    return out;
  }

  /**
   * The partial packet's buffer with room for `need` bytes: doubled when full, and made the whole
   * packet's size once a quarter of it arrived. A packet arriving in pieces thus holds at most four
   * times what has arrived (the header's claim alone buys nothing), copies stay linear in its size,
   * and a big packet that is really coming skips the last doublings: a 10 MiB PUBLISH allocated 26
   * MiB of fresh buffers in doublings, each page of them a fault, against 15 MiB now.
   */
  #room(need: number): Uint8Array {
    const body = this.#body!;
    if (need <= body.length) return body;
    const size = need * 4 >= this.#total ? this.#total : Math.max(need, body.length * 2);
    const grown = new Uint8Array(size);
    grown.set(body.subarray(0, this.#filled));
    return this.#body = grown;
  }

  /** Bytes held for the partial packet (its buffer's capacity); 0 between packets. */
  get bufferedCapacity(): number {
    return this.#body?.length ?? 0;
  }

  #fail(out: DecodeResult[], message: string, reasonCode: number = ReasonCode.MalformedPacket) {
    this.#dead = true;
    this.#body = null;
    out.push({ ok: false, reasonCode, message });
  }

  #finish(out: DecodeResult[], frame: Uint8Array): void {
    this.#state = HEADER;
    this.#body = null;
    let userProperties: [string, string][] | null;
    try {
      userProperties = checkFrame(frame, 1 + this.#lenBytes, this.#version);
    } catch (e) {
      if (e instanceof MqttError) return this.#fail(out, e.message, e.reasonCode);
      // A bug in the checker must still end only this connection, never the shard.
      const why = e instanceof Error ? e.message : String(e);
      return this.#fail(out, `Cannot check packet type ${frame[0]! >> 4}: ${why}`);
    }
    const headerLen = 1 + this.#lenBytes;
    let packet: Packet;
    try {
      packet = fastDecode(frame, headerLen, this.#version) ??
        decodeFrame(frame, headerLen, this.#version);
    } catch (e) {
      // Unreachable for a checked frame; if it happens, it is this connection's error alone.
      const why = e instanceof Error ? e.message : String(e);
      return this.#fail(out, `Cannot decode packet type ${frame[0]! >> 4}: ${why}`);
    }
    if (packet.cmd === "connect") this.#version = (packet.protocolVersion ?? 4) as ProtocolVersion;
    if (userProperties) orderedUserProperties.set(packet, userProperties);
    out.push({ ok: true, packet });
  }
}

const orderedUserProperties = new WeakMap<Packet, [string, string][]>();

/**
 * The user properties of a decoded PUBLISH (or of a CONNECT's will) in wire order, duplicates
 * and interleaving kept [MQTT-3.3.2-18]; undefined when it had none. mqtt-packet's own
 * `properties.userProperties` object groups values by name.
 */
export function userPropertiesOf(packet: Packet): readonly [string, string][] | undefined {
  return orderedUserProperties.get(packet);
}

/**
 * A Buffer view over the same memory (no copy): mqtt-packet's types and its encoder want Buffer
 * where Culex keeps Uint8Array.
 *
 * @example
 * ```ts
 * import { asBuffer } from "./codec.ts";
 * import assert from "node:assert/strict";
 * const u8 = new Uint8Array([1, 2, 3]);
 * assert.ok(asBuffer(u8).buffer === u8.buffer);
 * ```
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function fixBinaries(
  props: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (props === undefined) return props;
  let out = props;
  for (const key of ["correlationData", "authenticationData"]) {
    const v = props[key];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) {
      if (out === props) out = { ...props };
      out[key] = asBuffer(v);
    }
  }
  return out;
}

// mqtt-packet's generate concatenates with Buffer#copy, so every binary field must be a Buffer;
// plain Uint8Arrays are wrapped as views, on a shallow copy of the packet.
function normalize(packet: Packet): Packet {
  const loose = packet as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { ...loose };
  for (const key of ["payload", "password"]) {
    const v = loose[key];
    if (v instanceof Uint8Array) out[key] = asBuffer(v);
  }
  out.properties = fixBinaries(loose.properties as Record<string, unknown> | undefined);
  if (out.properties === undefined) delete out.properties;
  const will = loose.will as Record<string, unknown> | undefined;
  if (will !== undefined) {
    const w: Record<string, unknown> = { ...will };
    if (will.payload instanceof Uint8Array) w.payload = asBuffer(will.payload);
    w.properties = fixBinaries(will.properties as Record<string, unknown> | undefined);
    if (w.properties === undefined) delete w.properties;
    out.will = w;
  }
  return out as unknown as Packet;
}

/**
 * Encodes a packet for the given protocol level with mqtt-packet's generate. Binary fields may be
 * Buffer or Uint8Array. Throws TypeError when mqtt-packet refuses the packet (a programmer error:
 * e.g. QoS > 0 without messageId).
 *
 * @example
 * ```ts
 * import { encodePacket } from "./codec.ts";
 * import assert from "node:assert/strict";
 * const bytes = encodePacket({ cmd: "pingresp" }, 4);
 * assert.ok(bytes.length === 2 && bytes[0] === 0xd0);
 * ```
 */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Uint8Array {
  const fast = encodeAck(packet, protocolVersion);
  if (fast !== null) return fast;
  try {
    const buf = mqttPacket.generate(normalize(packet), { protocolVersion });
    // A plain Uint8Array view: Buffer#slice shares memory where Uint8Array#slice copies, a trap
    // for callers that expect the latter.
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new TypeError(`Cannot encode ${packet.cmd} packet: ${reason}`, { cause: e });
  }
}

/**
 * CONNACK without properties, byte for byte as mqtt-packet writes it (MQTT 5: an empty property
 * length), once per connection: mqtt-packet's generate builds a stream accumulator and several
 * Buffers for these four or five bytes. Null when it has properties or an invalid code (left to
 * mqtt-packet, which refuses the latter).
 */
function encodeConnack(packet: Packet, version: ProtocolVersion): Uint8Array | null {
  const ack = packet as {
    returnCode?: number;
    reasonCode?: number;
    sessionPresent?: boolean;
    properties?: object;
  };
  const rc = version === 5 ? ack.reasonCode : ack.returnCode;
  if (typeof rc !== "number" || rc < 0 || rc > 255 || ack.properties !== undefined) return null;
  const out = new Uint8Array(version === 5 ? 5 : 4);
  out[0] = 0x20;
  out[1] = version === 5 ? 3 : 2;
  out[2] = ack.sessionPresent ? 1 : 0;
  out[3] = rc; // out[4] (MQTT 5): property length 0
  return out;
}

const ACK_TYPES: Readonly<Record<string, number>> = {
  puback: 0x40,
  pubrec: 0x50,
  pubrel: 0x62,
  pubcomp: 0x70,
};
const PINGRESP = new Uint8Array([0xd0, 0x00]);

/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP without properties, PINGRESP and CONNACK, byte for byte as
 * mqtt-packet writes them (MQTT 5: reason code 0 omitted, else reason code and an empty property
 * length), without its stream machinery: these go out once per QoS 1/2 message. Null for
 * anything else.
 */
function encodeAck(packet: Packet, version: ProtocolVersion): Uint8Array | null {
  if (packet.cmd === "pingresp") return PINGRESP.slice();
  if (packet.cmd === "connack") return encodeConnack(packet, version);
  const type = ACK_TYPES[packet.cmd];
  if (type === undefined) return null;
  const ack = packet as {
    messageId?: number;
    reasonCode?: number;
    properties?: object;
    dup?: boolean;
  };
  const id = ack.messageId;
  if (typeof id !== "number" || ack.properties !== undefined || ack.dup === true) return null;
  const long = version === 5 && ack.reasonCode !== 0;
  const out = new Uint8Array(long ? 6 : 4);
  out[0] = type;
  out[1] = long ? 4 : 2;
  out[2] = id >> 8;
  out[3] = id & 0xff;
  if (long) out[4] = ack.reasonCode ?? 0; // out[5]: property length 0
  return out;
}
