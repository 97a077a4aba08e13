/**
 * CONNECT peek for the supervisor: reads just enough of the first packet of a connection to learn
 * the client id, so the connection can be handed to the shard that owns that id before any MQTT
 * state exists. Hand-written (no mqtt-packet) because it runs on every new connection and needs
 * nothing else; it never throws and validates only what it must read. The owner shard decodes
 * and checks the same bytes fully.
 *
 * @module
 */

/** What {@linkcode peekConnect} found in the bytes received so far. */
export type PeekResult =
  | { readonly kind: "need-more" }
  | {
    readonly kind: "ok";
    /** "" when the client sent none, or when the protocol name/level is unknown. */
    readonly clientId: string;
    /** Bytes of the whole CONNECT packet (fixed header included). */
    readonly packetLength: number;
  }
  | { readonly kind: "invalid"; readonly reason: string };

const NEED_MORE: PeekResult = { kind: "need-more" };
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function invalid(reason: string): PeekResult {
  return { kind: "invalid", reason };
}

function isName(buf: Uint8Array, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (buf[at + i] !== name.charCodeAt(i)) return false;
  return true;
}

function peek(buf: Uint8Array, maxPacketSize: number): PeekResult {
  if (buf.length === 0) return NEED_MORE;
  // [MQTT-3.1.0-1] The first packet must be CONNECT (type 1, flags 0 [MQTT-2.1.3-1]).
  if (buf[0] !== 0x10) return invalid("first packet is not CONNECT");
  let remLen = 0;
  let i = 1;
  for (let mul = 1;; mul *= 128, i++) {
    if (i > 4) return invalid("remaining length is longer than 4 bytes");
    if (i >= buf.length) return NEED_MORE;
    const c = buf[i]!;
    remLen += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) {
      // [MQTT-1.5.5-1] minimal encoding.
      if (i > 1 && c === 0) return invalid("remaining length is not minimally encoded");
      break;
    }
  }
  const headerLen = i + 1;
  if (remLen > maxPacketSize) {
    return invalid(`CONNECT of ${remLen} bytes exceeds the maximum of ${maxPacketSize}`);
  }
  const packetLength = headerLen + remLen;
  if (buf.length < packetLength) return NEED_MORE;
  const end = packetLength;
  let p = headerLen;
  if (p + 2 > end) return invalid("CONNECT is too short for a protocol name");
  const nameLen = (buf[p]! << 8) | buf[p + 1]!;
  p += 2;
  if (p + nameLen + 1 > end) return invalid("CONNECT is too short for a protocol level");
  const isMqtt = nameLen === 4 && isName(buf, p, "MQTT");
  const isMqisdp = nameLen === 6 && isName(buf, p, "MQIsdp");
  p += nameLen;
  const level = buf[p]! & 0x7f; // bit 7 marks a bridge (Mosquitto, EMQX)
  p++;
  if (!((isMqtt && (level === 4 || level === 5)) || (isMqisdp && level === 3))) {
    // The shard answers with CONNACK 0x84 / return code 1 [MQTT-3.1.2-2].
    return { kind: "ok", clientId: "", packetLength };
  }
  p += 3; // connect flags, keep alive
  if (level === 5) {
    let propLen = 0;
    for (let mul = 1, k = 0;; mul *= 128, k++) {
      if (k === 4) return invalid("property length is longer than 4 bytes");
      if (p >= end) return invalid("CONNECT is too short for its properties");
      const c = buf[p++]!;
      propLen += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) break;
    }
    p += propLen;
  }
  if (p + 2 > end) return invalid("CONNECT is too short for a client identifier");
  const idLen = (buf[p]! << 8) | buf[p + 1]!;
  p += 2;
  if (p + idLen > end) return invalid("client identifier runs past the end of CONNECT");
  try {
    // [MQTT-3.1.3-4] [MQTT-1.5.4-1] The client id is well-formed UTF-8.
    return { kind: "ok", clientId: utf8.decode(buf.subarray(p, p + idLen)), packetLength };
  } catch {
    return invalid("client identifier is not valid UTF-8");
  }
}

/**
 * Reads the client id from the start of a connection's byte stream. `need-more` until the whole
 * CONNECT has arrived; `invalid` when the bytes cannot be a CONNECT within `maxPacketSize`
 * (close the connection); `ok` with an empty id when the client sent none or the protocol is
 * unknown (the shard then answers with the right CONNACK). Never throws.
 *
 * @example
 * ```ts
 * import { peekConnect } from "./connect_peek.ts";
 * import assert from "node:assert/strict";
 * // MQTT 3.1.1 CONNECT, clean session, keep alive 60, client id "ab"
 * const bytes = new Uint8Array([
 *   0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 2, 0x61, 0x62,
 * ]);
 * const r = peekConnect(bytes, 1024);
 * assert.ok(r.kind === "ok" && r.clientId === "ab" && r.packetLength === 16);
 * assert.ok(peekConnect(bytes.subarray(0, 5), 1024).kind === "need-more");
 * ```
 */
export function peekConnect(buf: Uint8Array, maxPacketSize: number): PeekResult {
  try {
    return peek(buf, maxPacketSize);
  } catch (e) {
    // Unreachable by construction; kept so the supervisor's accept path can never throw.
    return invalid(`CONNECT peek failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
