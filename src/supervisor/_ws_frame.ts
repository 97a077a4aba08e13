/**
 * RFC 6455 framing for the WebSocket transport: an incremental decoder of client frames (masked,
 * binary only, fragmented or not, ping/pong/close) that streams payload bytes out as they arrive,
 * and the server's frame headers. Private to src/supervisor/. Pure: no socket; the decoder's state
 * belongs to one connection (the isolation rule) and holds at most a 14-byte header and a 125-byte
 * control payload, whatever the frame size.
 */

/** Close codes used by the broker [RFC 6455 7.4.1]. */
export const WsClose = {
  Normal: 1000,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  TooBig: 1009,
} as const;

/** Opcodes [RFC 6455 5.2]. */
export const WsOp = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Where a decoder delivers what it finds; implemented by the socket port (no closures). */
export interface WsFrameSink {
  /** Payload bytes of binary data frames, in order, in pieces of any size (views, unmasked). */
  wsData(bytes: Uint8Array): void;
  /** A whole control frame: ping, pong or close. */
  wsControl(opcode: number, payload: Uint8Array): void;
  /** The client broke the protocol; the connection must be closed with `code`. */
  wsError(code: number, reason: string): void;
}

const MAX_HEADER = 14;

/** Decodes the frames of one client connection; see the file header. */
export class WsFrameDecoder {
  #maxFrame: number;
  // Header bytes while a header is split across reads; null otherwise.
  #head: Uint8Array | null = null;
  #headLen = 0;
  /** Payload bytes of the current frame still to come; -1 between frames. */
  #remaining = -1;
  #opcode = 0;
  #mask = new Uint8Array(4);
  #maskAt = 0;
  /** Inside a fragmented binary message (a continuation frame may follow). */
  #inMessage = false;
  #control: Uint8Array | null = null;
  #controlLen = 0;
  #failed = false;
  /** Data bytes gathered at the front of the chunk being pushed, and that chunk. */
  #out = 0;
  #chunk: Uint8Array | null = null;

  /** @param maxFrame largest frame payload accepted, bytes. */
  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /**
   * Feeds bytes read from the socket. The chunk is unmasked and compacted in place (it must be
   * ours): the data of every frame in it goes to the sink as one piece, so a read of many small
   * frames costs one ring record, as a TCP read does.
   */
  push(chunk: Uint8Array, sink: WsFrameSink): void {
    let at = 0;
    this.#out = 0;
    this.#chunk = chunk;
    while (at < chunk.length && !this.#failed) {
      if (this.#remaining < 0) {
        at = this.#readHeader(chunk, at, sink);
        if (this.#remaining === 0) this.#endFrame(sink, chunk); // an empty frame
        continue;
      }
      const n = Math.min(this.#remaining, chunk.length - at);
      const piece = chunk.subarray(at, at + n);
      this.#unmask(piece);
      this.#remaining -= n;
      if (this.#opcode >= 0x8) {
        this.#control!.set(piece, this.#controlLen);
        this.#controlLen += n;
      } else {
        if (this.#out !== at) chunk.copyWithin(this.#out, at, at + n);
        this.#out += n;
      }
      at += n;
      if (this.#remaining === 0) this.#endFrame(sink, chunk);
    }
    this.#flush(sink, chunk);
    this.#chunk = null;
  }

  /** Hands the data gathered at the front of `chunk` to the sink. */
  #flush(sink: WsFrameSink, chunk: Uint8Array): void {
    if (this.#out > 0) sink.wsData(chunk.subarray(0, this.#out));
    this.#out = 0;
  }

  /** Reads (part of) a frame header from chunk[at..]; returns the new position. */
  #readHeader(chunk: Uint8Array, at: number, sink: WsFrameSink): number {
    let buf: Uint8Array;
    let len: number;
    let base: number;
    if (this.#head === null) {
      buf = chunk;
      base = at;
      len = chunk.length - at;
    } else {
      const take = Math.min(MAX_HEADER - this.#headLen, chunk.length - at);
      this.#head.set(chunk.subarray(at, at + take), this.#headLen);
      buf = this.#head;
      base = 0;
      len = this.#headLen + take;
    }
    const need = len >= 2 ? headerSize(buf[base + 1] as number) : 2;
    if (len < need) {
      // Keep the partial header for the next read.
      if (this.#head === null) {
        this.#head = new Uint8Array(MAX_HEADER);
        this.#head.set(chunk.subarray(at));
      }
      this.#headLen = len;
      return chunk.length;
    }
    const usedFromChunk = this.#head === null ? need : need - this.#headLen;
    this.#parseHeader(buf, base, need, sink);
    this.#head = null;
    this.#headLen = 0;
    return at + usedFromChunk;
  }

  #parseHeader(b: Uint8Array, at: number, size: number, sink: WsFrameSink): void {
    const b0 = b[at] as number;
    const b1 = b[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.#fail(sink, WsClose.ProtocolError, "RSV bits set");
    if ((b1 & 0x80) === 0) {
      return this.#fail(sink, WsClose.ProtocolError, "client frame is not masked");
    }
    let length = b1 & 0x7f;
    if (length === 126) length = ((b[at + 2] as number) << 8) | (b[at + 3] as number);
    else if (length === 127) {
      const hi = ((b[at + 2] as number) << 24 | (b[at + 3] as number) << 16 |
        (b[at + 4] as number) << 8 | (b[at + 5] as number)) >>> 0;
      const lo = ((b[at + 6] as number) << 24 | (b[at + 7] as number) << 16 |
        (b[at + 8] as number) << 8 | (b[at + 9] as number)) >>> 0;
      length = hi * 2 ** 32 + lo;
    }
    this.#mask.set(b.subarray(at + size - 4, at + size)); // checked above: the frame is masked
    this.#maskAt = 0;
    if (opcode >= 0x8) {
      if (opcode !== WsOp.Close && opcode !== WsOp.Ping && opcode !== WsOp.Pong) {
        return this.#fail(sink, WsClose.ProtocolError, `unknown opcode ${opcode}`);
      }
      if (!fin || length > 125) {
        return this.#fail(sink, WsClose.ProtocolError, "fragmented or long control frame");
      }
      this.#control = new Uint8Array(length);
      this.#controlLen = 0;
    } else if (opcode === WsOp.Text) {
      return this.#fail(sink, WsClose.UnsupportedData, "text frame (MQTT needs binary frames)");
    } else if (opcode === WsOp.Binary) {
      if (this.#inMessage) {
        return this.#fail(sink, WsClose.ProtocolError, "new message inside a fragmented one");
      }
      this.#inMessage = !fin;
    } else if (opcode === WsOp.Continuation) {
      if (!this.#inMessage) {
        return this.#fail(sink, WsClose.ProtocolError, "continuation without a message");
      }
      this.#inMessage = !fin;
    } else {
      return this.#fail(sink, WsClose.ProtocolError, `unknown opcode ${opcode}`);
    }
    if (length > this.#maxFrame) {
      return this.#fail(sink, WsClose.TooBig, `frame of ${length} bytes exceeds ${this.#maxFrame}`);
    }
    this.#opcode = opcode;
    this.#remaining = length;
  }

  #endFrame(sink: WsFrameSink, chunk: Uint8Array): void {
    this.#remaining = -1;
    if (this.#opcode >= 0x8) {
      const payload = this.#control!;
      this.#control = null;
      // Data that came before a close must reach the owner before the close does.
      if (this.#opcode === WsOp.Close) this.#flush(sink, chunk);
      sink.wsControl(this.#opcode, payload);
    }
  }

  #unmask(piece: Uint8Array): void {
    const m = this.#mask;
    let k = this.#maskAt;
    for (let i = 0; i < piece.length; i++) {
      piece[i] = (piece[i] as number) ^ (m[k] as number);
      k = (k + 1) & 3;
    }
    this.#maskAt = k;
  }

  #fail(sink: WsFrameSink, code: number, reason: string): void {
    // The frames before the bad one were fine: their data goes first.
    if (this.#chunk) this.#flush(sink, this.#chunk);
    this.#failed = true;
    sink.wsError(code, reason);
  }
}

/** Header bytes of a frame whose second byte is `b1` (an unmasked one is refused once read). */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/**
 * The header of an unmasked server frame (FIN set) carrying `length` payload bytes.
 *
 * @example
 * ```ts
 * import { frameHeader, WsOp } from "./_ws_frame.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...frameHeader(WsOp.Binary, 5)], [0x82, 5]);
 * ```
 */
export function frameHeader(opcode: number, length: number): Uint8Array {
  if (length < 126) return Uint8Array.of(0x80 | opcode, length);
  if (length < 65536) return Uint8Array.of(0x80 | opcode, 126, length >> 8, length & 0xff);
  const h = new Uint8Array(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  const hi = Math.floor(length / 2 ** 32);
  const lo = length >>> 0;
  h.set([hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff], 2);
  h.set([lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff], 6);
  return h;
}

/** A close frame with a status code (and no reason text). */
export function closeFrame(code: number): Uint8Array {
  return Uint8Array.of(0x80 | WsOp.Close, 2, code >> 8, code & 0xff);
}
