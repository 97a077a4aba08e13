/**
 * The MQTT codec. PacketDecoder frames the byte stream of one connection itself (fixed header +
 * remaining length, size guard before any body is buffered), checks each whole packet with
 * _frame_check.ts, then builds the packet object in mqtt-packet's shape: the message-path types
 * (PUBLISH, the acks, PINGREQ) in _fast_decode.ts, every other type in _decode.ts. Both are pure
 * functions of the frame: the decoder's only state is the partial packet of its own connection,
 * so no connection's bytes can change how another's are decoded. encodePacket (_encode.ts) writes
 * the acks and PINGRESP itself and wraps mqtt-packet's generate for the rest (the only use of
 * npm:mqtt-packet at run time). Nothing here does I/O.
 *
 * @module
 */

import type { Packet } from "mqtt-packet";
import { MqttError } from "./errors.ts";
import { checkFrame, type ProtocolVersion } from "./_frame_check.ts";
import { fastDecode } from "./_fast_decode.ts";
import { decodeFrame } from "./_decode.ts";
import { ReasonCode } from "./reason_codes.ts";

export { asBuffer, encodePacket } from "./_encode.ts";

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
