/**
 * Channel: the protocol state machine of one client connection (MQTT 3.1, 3.1.1 and 5.0). It
 * decodes the connection's bytes, hands each packet to the dispatcher, and turns every MqttError
 * into exactly one answer (CONNACK or DISCONNECT) plus a close of this connection only. Work that
 * answers later (an authentication backend, an ACL lookup, a route waiting for ring space) is
 * started with suspendUntil(): until its result is handled, this connection's later packets are
 * held in order (bounded: above mqtt.max_held_bytes the socket's reading is paused, nothing is
 * dropped). Output leaves through ChannelOutput; state changes only through the methods here.
 * A Channel owns no socket, ring or timer.
 */

import type { Logger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import {
  connackReturnCodeV3,
  type DecodeResult,
  encodePacket,
  encodePublish,
  MqttError,
  type Packet,
  PacketDecoder,
  type ProtocolVersion,
  ReasonCode,
  reasonName,
  remainingExpirySeconds,
} from "../mqtt/mod.ts";
import type { EnhancedAuthRegistry } from "../auth/mod.ts";
import type { Broker } from "./broker.ts";
import type { Clock } from "./clock.ts";
import type { Delivery } from "./delivery.ts";
import type { ClientFacts, Hooks } from "./hooks.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionOutput } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import { TopicAliases } from "./topic_alias.ts";
import type { WorkQueue } from "./work_queue.ts";
import { ChannelState } from "./_channel_state.ts";

export type { AuthExchange, ChannelStateName, Established } from "./_channel_state.ts";

/** What a Channel's output needs from its shard: bytes and the connection's socket. */
export interface ChannelOutput {
  write(connId: number, bytes: Uint8Array): void;
  /** Writes what is pending, then closes the socket. */
  close(connId: number): void;
  /** Stops (true) or resumes (false) reading this connection's socket. */
  pauseInput(connId: number, on: boolean): void;
  /** The channel is gone; the shard forgets its connection id. */
  released(channel: Channel): void;
}

/** The services a Channel and its handlers use. */
export interface ChannelServices {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly broker: Broker;
  readonly registry: SessionRegistry<Channel>;
  readonly hooks: Hooks;
  readonly authMethods: EnhancedAuthRegistry;
  readonly work: WorkQueue;
  /** The packet dispatcher (handlers/dispatch.ts), injected so channel.ts imports no handler. */
  readonly dispatch: (ch: Channel, packet: Packet) => void;
}

/** Where a connection comes from (the ConnOpen record). */
export interface ConnInfo {
  readonly connId: number;
  readonly peer: string;
  readonly listener: string;
  /** Set by the supervisor when it assigned the id of a CONNECT with an empty one. */
  readonly assignedClientId: string;
}

/** One client connection; see the file header. */
export class Channel extends ChannelState implements SessionOutput {
  readonly connId: number;
  readonly peer: string;
  readonly listener: string;
  readonly assignedClientId: string;
  readonly svc: ChannelServices;
  readonly #out: ChannelOutput;
  lastActivity: number;
  #aliases: TopicAliases | null = null;
  // Decoder state only while a packet is split across reads (or after a decoding error); between
  // packets, which is nearly always for an idle client, the channel keeps just the protocol level
  // the stream is decoded at, and a read makes a decoder for itself (~110 bytes per connection).
  #decoder: PacketDecoder | null = null;
  #wireVersion: ProtocolVersion = 4;
  /** Work started by suspendUntil() and not yet handled. */
  #pending = 0;
  /** Packets that arrived while work was pending, in order; null when none. */
  #held: DecodeResult[] | null = null;
  #heldBytes = 0;
  #inputPaused = false;

  constructor(out: ChannelOutput, svc: ChannelServices, info: ConnInfo) {
    super();
    this.#out = out;
    this.svc = svc;
    this.connId = info.connId;
    this.peer = info.peer;
    this.listener = info.listener;
    this.assignedClientId = info.assignedClientId;
    this.lastActivity = svc.clock.now();
  }

  /** Topic aliases both ways (MQTT 5), made on first use: most connections never use them. */
  get aliases(): TopicAliases {
    return this.#aliases ??= new TopicAliases();
  }

  /** True while suspendUntil() work is pending. */
  get suspended(): boolean {
    return this.#pending > 0;
  }

  /** Feeds bytes from the socket; packets are handled in order until one fails. */
  handleBytes(bytes: Uint8Array): void {
    if (this.isClosed()) return;
    this.lastActivity = this.svc.clock.now();
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
      if (this.#pending === 0 && this.#held !== null) this.#replayHeld();
    });
  }

  /** Encodes and writes one packet to the client. */
  send(packet: Packet): void {
    if (this.isClosed()) return;
    const bytes = encodePacket(packet, this.protocolVersion);
    this.#out.write(this.connId, bytes);
    this.svc.metrics.packetOut(packet.cmd, 0, bytes.byteLength);
  }

  /** SessionOutput: sends a delivery; false when it exceeds the client's Maximum Packet Size. */
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean {
    const m = d.message;
    const v5 = this.protocolVersion === 5;
    const alias = v5 && this.clientTopicAliasMax > 0
      ? this.aliases.outbound(m.topic, this.clientTopicAliasMax)
      : null;
    const bytes = encodePublish(m, {
      qos: d.qos,
      retain: d.retain,
      dup,
      packetId,
      protocolVersion: this.protocolVersion,
      topicAlias: alias?.alias ?? 0,
      aliasOnly: alias?.aliasOnly ?? false,
      subscriptionIds: d.subscriptionIds,
      expirySeconds: v5 ? remainingExpirySeconds(m, this.svc.clock.now()) : 0,
    });
    const max = this.clientMaxPacketSize;
    if (max > 0 && bytes.byteLength > max) return false;
    if (this.isClosed()) return true;
    if (alias) this.aliases.commit(m.topic, alias);
    this.#out.write(this.connId, bytes);
    this.svc.metrics.packetOut("publish", d.qos, bytes.byteLength);
    this.svc.hooks.run("message.delivered", this.clientId, m);
    return true;
  }

  sendPubrel(packetId: number): void {
    this.send({ cmd: "pubrel", messageId: packetId });
  }

  /**
   * Server-side close. MQTT 5 clients get a DISCONNECT with the reason first when CONNECT was
   * accepted [MQTT-4.13.2-1]; the will goes out unless the client asked otherwise.
   */
  disconnect(reasonCode: number, reason: string, reasonString?: string): void {
    if (this.isClosed()) return;
    if (this.state === "connected" && this.protocolVersion === 5) {
      // A Reason String is always allowed on DISCONNECT [MQTT-3.1.2-29].
      const properties = reasonString ? { reasonString: reasonString.slice(0, 1024) } : undefined;
      this.send({ cmd: "disconnect", reasonCode, ...(properties ? { properties } : {}) });
    }
    this.terminate(reason, { publishWill: true });
  }

  /** The socket is gone (peer closed or I/O error): an abnormal end, so the will applies. */
  socketClosed(_reason: string): void {
    this.terminate("sock_closed", { publishWill: true });
  }

  /**
   * Ends the connection once: asks the supervisor to close the socket, hands the will to the
   * registry (which applies the will delay) and detaches or ends the session.
   */
  terminate(reason: string, opts: { publishWill: boolean }): void {
    if (this.isClosed()) return;
    const wasConnected = this.state === "connected";
    const session = this.markClosed();
    this.#held = null;
    this.#out.close(this.connId);
    this.#out.released(this);
    if (!wasConnected || !session) return;
    this.svc.registry.channelClosed(this, session, opts.publishWill ? this.takeWill() : null);
    this.svc.hooks.run("client.disconnected", this.facts(), reason);
  }

  /** What hooks are told about this connection. */
  facts(): ClientFacts {
    return {
      clientId: this.clientId,
      username: this.username,
      peer: this.peer,
      listener: this.listener,
      protocolVersion: this.protocolVersion,
      keepalive: this.keepalive,
      cleanStart: this.cleanStart,
    };
  }

  /** Keepalive check [MQTT-3.1.2-24]: 1.5 × keepalive (configurable) without a packet. */
  checkKeepalive(now: number): void {
    // An exchange or a decision that stalls gets as long as a CONNECT would have.
    const waiting = this.state === "authenticating" ||
      (this.state === "connecting" && this.suspended);
    if (waiting && now - this.lastActivity > this.svc.config.mqtt.idleTimeout) {
      this.terminate("auth_timeout", { publishWill: false });
      return;
    }
    const ms = this.keepaliveMs;
    if (this.state !== "connected" || ms === 0) return;
    if (now - this.lastActivity > ms) {
      this.svc.log.info("Keepalive timeout for {clientId} ({peer})", {
        clientId: this.clientId,
        peer: this.peer,
      });
      this.disconnect(ReasonCode.KeepAliveTimeout, "keepalive_timeout");
    }
  }

  /** CONNACK in the connection's protocol version (3.x return codes are mapped). */
  sendConnack(
    reasonCode: number,
    sessionPresent: boolean,
    properties?: Record<string, unknown>,
  ): void {
    if (this.protocolVersion === 5) {
      this.send({
        cmd: "connack",
        reasonCode,
        sessionPresent,
        ...(properties ? { properties } : {}),
      } as Packet);
    } else {
      this.send({ cmd: "connack", returnCode: connackReturnCodeV3(reasonCode), sessionPresent });
    }
    this.svc.hooks.run("client.connack", this.facts(), reasonCode);
  }

  #process(results: DecodeResult[], from: number): void {
    for (let i = from; i < results.length; i++) {
      if (this.isClosed()) return;
      if (this.#pending > 0) {
        this.#hold(results, i);
        return;
      }
      const result = results[i]!;
      if (!result.ok) {
        this.#fail(new MqttError(result.reasonCode, result.message), true);
        return;
      }
      const p = result.packet;
      this.svc.metrics.packetIn(p.cmd, p.cmd === "publish" ? p.qos : 0);
      this.#guard(() => this.svc.dispatch(this, p));
    }
  }

  /** Runs protocol work; any error ends this connection alone with its reason code. */
  #guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (err instanceof MqttError) this.#fail(err, false);
      else {
        this.svc.log.error("Handler failed for {clientId} ({peer}): {err}", {
          clientId: this.clientId,
          peer: this.peer,
          err: String(err instanceof Error ? err.stack : err),
        });
        this.#fail(new MqttError(ReasonCode.UnspecifiedError, String(err)), false);
      }
    }
  }

  #hold(results: DecodeResult[], from: number): void {
    const held = this.#held ??= [];
    for (let i = from; i < results.length; i++) {
      const r = results[i]!;
      held.push(r);
      this.#heldBytes += r.ok ? r.packet.length ?? 0 : 0;
    }
    if (!this.#inputPaused && this.#heldBytes > this.svc.config.mqtt.maxHeldBytes) {
      this.#inputPaused = true;
      this.#out.pauseInput(this.connId, true);
    }
  }

  #replayHeld(): void {
    const held = this.#held!;
    this.#held = null;
    this.#heldBytes = 0;
    this.#process(held, 0);
    if (this.#inputPaused && this.#heldBytes <= this.svc.config.mqtt.maxHeldBytes / 2) {
      this.#inputPaused = false;
      if (!this.isClosed()) this.#out.pauseInput(this.connId, false);
    }
  }

  #fail(err: MqttError, malformed: boolean): void {
    this.svc.log.warn("Closing {clientId} ({peer}): {message} (reason 0x{code})", {
      clientId: this.clientId || "(no client id)",
      peer: this.peer,
      message: err.message,
      code: err.reasonCode.toString(16),
      malformed,
    });
    if (this.state === "connecting" || this.state === "authenticating") {
      this.#refuseConnect(err.reasonCode, err.message);
      return;
    }
    const reason = reasonName(err.reasonCode).toLowerCase().replaceAll(" ", "_");
    this.disconnect(err.reasonCode, reason, err.message);
  }

  /** A CONNECT that failed gets a CONNACK with the code where the protocol has one. */
  #refuseConnect(code: number, message: string): void {
    if (code !== ReasonCode.MalformedPacket && code !== ReasonCode.ProtocolError) {
      this.sendConnack(code, false, { reasonString: message.slice(0, 1024) });
    }
    this.terminate("connect_refused", { publishWill: false });
  }
}
