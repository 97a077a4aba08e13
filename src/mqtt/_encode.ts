/**
 * The encoding half of the codec (codec.ts re-exports it): encodePacket writes CONNACK, the acks
 * and PINGRESP itself, byte for byte as mqtt-packet would, and wraps mqtt-packet's generate for
 * every other packet (the only use of npm:mqtt-packet at run time). Private to src/mqtt/; pure.
 */

import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { Buffer } from "node:buffer";
import type { ProtocolVersion } from "./_frame_check.ts";

// mqtt-packet's encoder otherwise builds, on its first use in each isolate, a cache of 65,536
// two-byte Buffers (one per 16-bit number): 6.5 MiB of heap per isolate that is never freed,
// paid after start-up (the first CONNACK), so it showed as broker growth in the connections
// and fuzz benchmarks. Writing those numbers directly costs nothing measurable.
mqttPacket.writeToStream.cacheNumbers = false;

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
