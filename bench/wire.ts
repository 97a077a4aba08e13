/**
 * Bench wire: the few MQTT 3.1.1 packets the load generator sends, encoded once into byte arrays,
 * and a fixed-header scanner that frames the byte stream it receives without decoding packets.
 * Pure (no I/O) and independent of the broker's codec. Packet ids are patched in place into
 * pre-encoded templates, so the hot path only copies bytes.
 */

const encoder = new TextEncoder();

/** Packet types (high nibble of the first byte) [MQTT 3.1.1 table 2.1]. */
export const T = {
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBACK: 9,
} as const;

function varInt(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function str(s: string): number[] {
  const b = encoder.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function packet(first: number, body: number[]): Uint8Array {
  return Uint8Array.from([first, ...varInt(body.length), ...body]);
}

/**
 * CONNECT, MQTT 3.1.1, no will, no credentials; clean session unless `clean` is false (a
 * persistent session, for the durable scenarios). keepalive in seconds (0 = off).
 */
export function connectPacket(clientId: string, keepalive = 0, clean = true): Uint8Array {
  return packet(0x10, [
    ...str("MQTT"),
    4,
    clean ? 0x02 : 0x00,
    keepalive >> 8,
    keepalive & 0xff,
    ...str(clientId),
  ]);
}

/** SUBSCRIBE with packet id 1 and one filter. */
export function subscribePacket(filter: string, qos: number): Uint8Array {
  return packet(0x82, [0, 1, ...str(filter), qos]);
}

/** DISCONNECT. */
export const DISCONNECT = Uint8Array.from([0xe0, 0]);

/** A PUBLISH encoded once; pidOffset < 0 at QoS 0. */
export interface PublishTemplate {
  bytes: Uint8Array;
  pidOffset: number;
  payloadOffset: number;
}

/** PUBLISH with a payload of payloadSize bytes ('x'); the packet id is 0 until patched. */
export function publishTemplate(
  topic: string,
  qos: number,
  payloadSize: number,
  retain = false,
): PublishTemplate {
  const t = str(topic);
  const pid = qos > 0 ? [0, 0] : [];
  const body = [...t, ...pid, ...new Array<number>(payloadSize).fill(0x78)];
  const bytes = packet(0x30 | (qos << 1) | (retain ? 1 : 0), body);
  const headerLen = bytes.length - body.length;
  return {
    bytes,
    pidOffset: qos > 0 ? headerLen + t.length : -1,
    payloadOffset: headerLen + t.length + pid.length,
  };
}

/** The template repeated n times, for QoS 0 floods. */
export function repeat(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(bytes.length * n);
  for (let i = 0; i < n; i++) out.set(bytes, i * bytes.length);
  return out;
}

/** Writes a packet id at offset. */
export function setPid(buf: Uint8Array, offset: number, pid: number): void {
  buf[offset] = pid >> 8;
  buf[offset + 1] = pid & 0xff;
}

/**
 * Appends 4-byte acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP) to a growable buffer that is
 * flushed as one write per received chunk.
 */
export class AckBatch {
  #buf = new Uint8Array(4096);
  #len = 0;

  /** first: 0x40 PUBACK, 0x50 PUBREC, 0x62 PUBREL, 0x70 PUBCOMP. */
  add(first: number, pid: number): void {
    if (this.#len + 4 > this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    const b = this.#buf;
    const o = this.#len;
    b[o] = first;
    b[o + 1] = 2;
    b[o + 2] = pid >> 8;
    b[o + 3] = pid & 0xff;
    this.#len = o + 4;
  }

  get length(): number {
    return this.#len;
  }

  /** The batched bytes (a copy), and resets. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return out;
  }
}

/** Called once per framed packet: buf[bodyStart, end) is the variable header and payload. */
export type PacketHandler = (
  buf: Uint8Array,
  first: number,
  bodyStart: number,
  end: number,
) => void;

/** Packets at least this large are gathered into a buffer of their own size (no re-copying). */
const BIG_PACKET = 64 * 1024;

/**
 * Frames a TCP byte stream into MQTT packets by their fixed headers only. A small packet split
 * across chunks is carried over (copied) to the next one; a big one (a 10 MiB PUBLISH) is
 * gathered into one buffer of its size, so every byte is copied once, not once per chunk.
 */
export class Scanner {
  #carry: Uint8Array | null = null;
  #big: { buf: Uint8Array; filled: number; first: number; body: number } | null = null;
  #onPacket: PacketHandler;

  constructor(onPacket: PacketHandler) {
    this.#onPacket = onPacket;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    const big = this.#big;
    if (big) {
      const take = Math.min(big.buf.length - big.filled, chunk.length);
      big.buf.set(chunk.subarray(0, take), big.filled);
      big.filled += take;
      if (big.filled < big.buf.length) return;
      this.#big = null;
      this.#onPacket(big.buf, big.first, big.body, big.buf.length);
      if (take === chunk.length) return;
      buf = chunk.subarray(take);
    }
    if (this.#carry) {
      const joined = new Uint8Array(this.#carry.length + buf.length);
      joined.set(this.#carry);
      joined.set(buf, this.#carry.length);
      buf = joined;
      this.#carry = null;
    }
    const n = buf.length;
    let off = 0;
    while (off + 2 <= n) {
      let p = off + 1;
      let len = 0;
      let mul = 1;
      let b = 0;
      do {
        if (p >= n) {
          b = -1;
          break;
        }
        b = buf[p++]!;
        len += (b & 127) * mul;
        mul *= 128;
      } while (b & 128);
      if (b < 0) break;
      if (p + len > n) {
        if (len >= BIG_PACKET) {
          const whole = new Uint8Array(p - off + len);
          whole.set(buf.subarray(off));
          this.#big = { buf: whole, filled: n - off, first: buf[off]!, body: p - off };
          return;
        }
        break;
      }
      this.#onPacket(buf, buf[off]!, p, p + len);
      off = p + len;
    }
    if (off < n) this.#carry = buf.slice(off);
  }
}

/**
 * One PUBLISH of `size` payload bytes ('x'), built without spreading the payload through an
 * array (10 MiB would not fit a call's arguments); the packet id is 0 until patched.
 */
export function bigPublish(topic: string, qos: number, size: number): PublishTemplate {
  const t = str(topic);
  const pidLen = qos > 0 ? 2 : 0;
  const len = varInt(t.length + pidLen + size);
  const head = 1 + len.length;
  const bytes = new Uint8Array(head + t.length + pidLen + size);
  bytes[0] = 0x30 | (qos << 1);
  bytes.set(len, 1);
  bytes.set(t, head);
  bytes.fill(0x78, head + t.length + pidLen);
  return {
    bytes,
    pidOffset: qos > 0 ? head + t.length : -1,
    payloadOffset: head + t.length + pidLen,
  };
}

/** Packet id of an ack or of a QoS > 0 PUBLISH whose body starts at bodyStart. */
export function readPid(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/** Big-endian u32 at offset. */
export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) >>> 0) + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}

/** Writes a big-endian u32 at offset. */
export function writeU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

/** Offset of the packet id of a PUBLISH (QoS > 0) whose body starts at bodyStart. */
export function publishPidOffset(buf: Uint8Array, bodyStart: number): number {
  return bodyStart + 2 + ((buf[bodyStart]! << 8) | buf[bodyStart + 1]!);
}
