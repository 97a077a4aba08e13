/**
 * The reading half of a Channel (channel.ts extends it): the connection's bytes decoded into
 * packets and handed on in order, later packets held while suspendUntil() work is pending
 * (bounded by mqtt.max_held_bytes: above it the socket's reading is paused, nothing is dropped),
 * the listener's messages_rate, and the inbound counters. Every error of a packet's handling goes
 * to fail(), which the Channel turns into its one answer. Private to src/shard/.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Config, Rate } from "../config/types.ts";
import {
  type DecodeResult,
  MqttError,
  type Packet,
  PacketDecoder,
  type ProtocolVersion,
  ReasonCode,
} from "../mqtt/mod.ts";
import type { WorkQueue } from "./work_queue.ts";
import { ChannelSender, type SenderOutput, type SenderServices } from "./_channel_send.ts";
import { InputFlow } from "./_input_flow.ts";

/** The services reading needs. */
export interface ReaderServices extends SenderServices {
  readonly config: Config;
  readonly log: Logger;
  readonly work: WorkQueue;
}

/** See the file header. */
export abstract class ChannelReader<S extends ReaderServices> extends ChannelSender<S> {
  abstract readonly peer: string;
  abstract readonly listener: string;
  lastActivity: number;
  // Decoder state only while a packet is split across reads (or after a decoding error); between
  // packets, which is nearly always for an idle client, the channel keeps just the protocol level
  // the stream is decoded at, and a read makes a decoder for itself (~110 bytes per connection).
  #decoder: PacketDecoder | null = null;
  #wireVersion: ProtocolVersion = 4;
  /** Work started by suspendUntil() and not yet handled. */
  #pending = 0;
  /** Held packets and rate limiting, made when first needed (most connections never do). */
  #flow: InputFlow | null = null;
  /** Whether the listener's messages_rate was looked up (on the first PUBLISH). */
  #rateKnown = false;
  /**
   * This connection's inbound counters (EMQX's `recv_cnt` = reads, `recv_oct`, `recv_pkt`,
   * `recv_msg.qos0..2`, `recv_msg.dropped` = PUBLISHes that went nowhere: denied or no
   * subscriber). Plain numbers: no allocation on the read path.
   */
  recvCnt = 0;
  recvOct = 0;
  recvPkt = 0;
  recvQos0 = 0;
  recvQos1 = 0;
  recvQos2 = 0;
  recvDropped = 0;

  constructor(out: SenderOutput, svc: S, connId: number) {
    super(out, svc, connId);
    this.lastActivity = svc.clock.now();
  }

  /** Hands one decoded packet on (the Channel's dispatcher). */
  protected abstract handlePacket(packet: Packet): void;
  /** Ends this connection for `err` with its one answer. */
  protected abstract fail(err: MqttError, malformed: boolean): void;
  /** Stops (true) or resumes (false) reading this connection's socket. */
  protected abstract pauseInput(on: boolean): void;

  /** True while suspendUntil() work is pending. */
  get suspended(): boolean {
    return this.#pending > 0;
  }

  /** Feeds bytes from the socket; packets are handled in order until one fails. */
  handleBytes(bytes: Uint8Array): void {
    if (this.isClosed()) return;
    this.lastActivity = this.svc.clock.now();
    this.recvCnt++;
    this.recvOct += bytes.byteLength;
    this.svc.metrics.add("bytes.received", bytes.byteLength);
    const decoder = this.#decoder ?? new PacketDecoder({
      maxPacketSize: this.svc.config.mqtt.maxPacketSize,
      protocolVersion: this.#wireVersion,
    });
    const results = decoder.push(bytes);
    this.#wireVersion = decoder.protocolVersion;
    this.#decoder = decoder.idle ? null : decoder;
    this.#process(results, 0);
  }

  /**
   * Starts work that answers later. Until `then` has run (in a later pass of the shard's loop,
   * with this channel's error handling), this connection's later packets are held in order.
   * A rejected `work` ends the connection with 0x83 (callers turn expected failures into values).
   * Nothing runs if the connection closed meanwhile.
   */
  suspendUntil<T>(work: Promise<T>, then: (value: T) => void): void {
    this.#pending++;
    this.svc.work.await(work, (outcome) => {
      this.#pending--;
      if (this.isClosed()) return;
      this.#guard(() => {
        if (!outcome.ok) {
          throw new MqttError(ReasonCode.ImplementationSpecificError, String(outcome.error));
        }
        then(outcome.value);
      });
      if (this.#pending === 0 && this.#flow?.holding) this.#replayHeld();
    });
  }

  #process(results: DecodeResult[], from: number): void {
    for (let i = from; i < results.length; i++) {
      if (this.isClosed()) return;
      if (this.#pending > 0) {
        this.#inputFlow().hold(results, i);
        return;
      }
      const result = results[i]!;
      if (!result.ok) {
        this.fail(new MqttError(result.reasonCode, result.message), true);
        return;
      }
      const p = result.packet;
      const publish = p.cmd === "publish";
      this.svc.metrics.packetIn(p.cmd, publish ? p.qos : 0);
      this.recvPkt++;
      if (publish) {
        if (p.qos === 0) this.recvQos0++;
        else if (p.qos === 1) this.recvQos1++;
        else this.recvQos2++;
        this.#countPublish();
      }
      this.#guard(() => this.handlePacket(p));
    }
  }

  /** Runs protocol work; any error ends this connection alone with its reason code. */
  #guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (err instanceof MqttError) this.fail(err, false);
      else {
        this.svc.log.error("Handler failed for {clientId} ({peer}): {err}", {
          clientId: this.clientId,
          peer: this.peer,
          err: String(err instanceof Error ? err.stack : err),
        });
        this.fail(new MqttError(ReasonCode.UnspecifiedError, String(err)), false);
      }
    }
  }

  /** The connection ends: held packets are dropped with it and its timers stopped. */
  protected stopInput(): void {
    this.#flow?.stop();
  }

  #inputFlow(): InputFlow {
    return this.#flow ??= new InputFlow({
      clock: this.svc.clock,
      maxHeldBytes: this.svc.config.mqtt.maxHeldBytes,
      pause: (on) => this.pauseInput(on),
    });
  }

  /** messages_rate of the listener (EMQX), looked up on the first PUBLISH. */
  #countPublish(): void {
    if (!this.#rateKnown) {
      this.#rateKnown = true;
      const rate = messagesRateOf(this.svc.config, this.listener);
      if (rate) this.#inputFlow().limitMessages(rate);
    }
    this.#flow?.countPublish();
  }

  #replayHeld(): void {
    const flow = this.#flow!;
    this.#process(flow.takeHeld(), 0);
    flow.released();
  }
}

/** The messages_rate of the listener a connection came in on ("tcp:default"), if any. */
function messagesRateOf(config: Config, listener: string): Rate | null {
  const [type = "", name = ""] = listener.split(":");
  const all = config.listeners as unknown as Record<
    string,
    Record<string, { messagesRate?: Rate | null }>
  >;
  return all[type]?.[name]?.messagesRate ?? null;
}
