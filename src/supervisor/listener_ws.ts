/**
 * SocketPort for MQTT over WebSocket (ws and wss listeners): RFC 6455 framing on the stream
 * socket left after the HTTP upgrade (plain or TLS). Inbound binary frames are unmasked and their
 * payload streamed to the owner as MQTT bytes, whatever the framing (several packets in a frame,
 * a packet across frames); outbound bytes go out as binary frames. Reading pauses on the socket
 * itself, so backpressure reaches a flooding publisher exactly as on TCP. Owns the socket's event
 * wiring and its frame decoder; it parses no MQTT and never touches rings.
 */

import type { Socket } from "node:net";
import type { SocketHandlers, SocketPort, TransportInfo } from "./listener.ts";
import {
  closeFrame,
  frameHeader,
  WsClose,
  WsFrameDecoder,
  type WsFrameSink,
  WsOp,
} from "./_ws_frame.ts";

const PORT = Symbol("culex.wsPort");
type TaggedSocket = Socket & { [PORT]?: WsSocketPort };

/** See the file header. */
export class WsSocketPort implements SocketPort, WsFrameSink {
  readonly peer: string;
  readonly transport: TransportInfo | null;
  #socket: TaggedSocket;
  #decoder: WsFrameDecoder;
  #handlers: SocketHandlers | null = null;
  /** Frames the client sent right behind its upgrade request, fed in at attach(). */
  #early: Uint8Array | null;
  #reason = "closed";
  #closed = false;
  /** A close frame went out: nothing more may be sent [RFC 6455 5.5.1]. */
  #closeSent = false;

  /**
   * @param early bytes read after the upgrade request (may hold frames)
   * @param maxFrame largest inbound frame payload, bytes
   */
  constructor(
    socket: Socket,
    init: { peer: string; transport: TransportInfo | null; early: Uint8Array; maxFrame: number },
  ) {
    this.#socket = socket;
    this.peer = init.peer;
    this.transport = init.transport;
    this.#early = init.early.length > 0 ? init.early.slice() : null;
    this.#decoder = new WsFrameDecoder(init.maxFrame);
    this.#socket[PORT] = this;
    socket.on("error", WsSocketPort.#onError);
    socket.on("close", WsSocketPort.#onClose);
  }

  static #onError(this: TaggedSocket, err: Error): void {
    const port = this[PORT];
    if (port && port.#reason === "closed") port.#reason = err.message;
  }

  static #onClose(this: TaggedSocket): void {
    const port = this[PORT];
    if (!port) return;
    port.#closed = true;
    if (port.#reason === "closed" && this.readableEnded) port.#reason = "closed by peer";
    port.#handlers?.socketClosed(port.#reason);
  }

  static #onData(this: TaggedSocket, chunk: Uint8Array): void {
    const port = this[PORT];
    if (port && !port.#closeSent) port.#decoder.push(chunk, port);
  }

  static #onDrain(this: TaggedSocket): void {
    const port = this[PORT];
    if (port) port.#handlers?.socketDrained();
  }

  get writableLength(): number {
    return this.#socket.writableLength;
  }

  attach(handlers: SocketHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      handlers.socketClosed(this.#reason);
      return;
    }
    const early = this.#early;
    this.#early = null;
    if (early) this.#decoder.push(early, this);
    this.#socket.on("data", WsSocketPort.#onData);
    this.#socket.on("drain", WsSocketPort.#onDrain);
    if (this.#socket.isPaused()) this.#socket.resume();
  }

  /** WsFrameSink: MQTT bytes from binary frames. */
  wsData(bytes: Uint8Array): void {
    this.#handlers?.socketData(bytes);
  }

  /** WsFrameSink: ping → pong; close → the closing handshake; pong is ignored. */
  wsControl(opcode: number, payload: Uint8Array): void {
    if (opcode === WsOp.Ping && !this.#closeSent) {
      this.#socket.write(frameHeader(WsOp.Pong, payload.length));
      if (payload.length > 0) this.#socket.write(payload);
    } else if (opcode === WsOp.Close) {
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 0;
      this.#reason = code ? `WebSocket closed by peer (${code})` : "WebSocket closed by peer";
      this.#close(WsClose.Normal);
    }
  }

  /** WsFrameSink: the client broke RFC 6455 (or sent text): close with the code. */
  wsError(code: number, reason: string): void {
    this.#reason = `WebSocket ${reason}`;
    this.#close(code);
  }

  write(bytes: Uint8Array): void {
    if (this.#closeSent) return;
    const s = this.#socket;
    // Header and payload in one syscall even when the owner did not cork.
    s.cork();
    s.write(frameHeader(WsOp.Binary, bytes.length));
    s.write(bytes);
    s.uncork();
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Sends a close frame after the pending output, then ends the socket. */
  end(): void {
    this.#close(WsClose.Normal);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #close(code: number): void {
    if (this.#closed) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#socket.write(closeFrame(code));
    }
    this.#socket.end();
  }
}
