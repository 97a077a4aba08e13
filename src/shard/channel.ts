/**
 * Channel: the protocol state machine of one client connection (MQTT 3.1, 3.1.1 and 5.0). It
 * decodes the connection's bytes, enforces CONNECT-first, runs the handlers in handlers/, and
 * turns every MqttError into exactly one answer (CONNACK or DISCONNECT) plus a close of this
 * connection only. Output leaves through the ChannelHost port; a Channel owns no socket or ring.
 */

import type { Logger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import {
  connackReturnCodeV3,
  encodePacket,
  encodePublish,
  type IConnectPacket,
  MqttError,
  type Packet,
  PacketDecoder,
  type ProtocolVersion,
  ReasonCode,
  reasonName,
  remainingExpirySeconds,
} from "../mqtt/mod.ts";
import type { AuthContext, EnhancedAuthMethod, EnhancedAuthRegistry } from "../auth/mod.ts";
import type { Broker } from "./broker.ts";
import type { DelayedPublish } from "./delayed.ts";
import type { Metrics } from "./metrics.ts";
import type { ClientEvent, SysTopics } from "./sys.ts";
import type { Delivery } from "./delivery.ts";
import { dispatchPacket } from "./handlers/dispatch.ts";
import type { Session, SessionOutput } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { Will } from "./will.ts";
import { type ConnInfo, DEFAULT_CONN_INFO } from "./conn_info.ts";

/** What a Channel needs from its shard. */
export interface ChannelHost {
  readonly config: Config;
  readonly broker: Broker;
  readonly registry: SessionRegistry;
  readonly log: Logger;
  write(connId: number, bytes: Uint8Array): void;
  closeConnection(connId: number): void;
  /** The channel is gone; the shard forgets its connection id. */
  released(channel: Channel): void;
  now(): number;
  /**
   * Test-only hooks (env CULEX_TEST_HOOKS=1): a PUBLISH to
   * `$culex/fault/crash-shard` makes the shard throw outside every handler, as a bug would.
   */
  readonly faultInjection: boolean;
  crash(): void;
  readonly metrics: Metrics;
  readonly authMethods: EnhancedAuthRegistry;
  readonly sys: SysTopics;
  readonly delayed: DelayedPublish;
}

/** Lifecycle: waiting for CONNECT, connected, or closed (nothing more is read or sent). */
export type ChannelState = "connecting" | "authenticating" | "connected" | "closed";

/** An enhanced authentication exchange: the method, its state between steps, the CONNECT. */
export interface AuthExchange {
  readonly method: EnhancedAuthMethod;
  state: unknown;
  /** The CONNECT waiting for the exchange to succeed; null once connected. */
  pendingConnect: IConnectPacket | null;
}

/** One client connection; see the file header. */
export class Channel implements SessionOutput {
  readonly connId: number;
  readonly peer: string;
  readonly listener: string;
  readonly host: ChannelHost;
  /** Set by the supervisor when it assigned the id of a CONNECT with an empty one. */
  readonly assignedClientId: string;
  /** Zone, enable_authn, TLS certificate facts, cookie: from the listener (issue 12). */
  readonly connInfo: ConnInfo;
  state: ChannelState = "connecting";
  protocolVersion: 3 | 4 | 5 = 4;
  clientId = "";
  /** True when the broker assigned the client id (MQTT 5: sent back in CONNACK). */
  assignedId = false;
  /** Enhanced authentication in use on this connection, if any. */
  auth: AuthExchange | null = null;
  username: string | undefined = undefined;
  session: Session | null = null;
  will: Will | null = null;
  /** Keepalive in seconds as agreed (the client's, or MQTT 5 Server Keep Alive). */
  keepalive = 0;
  cleanStart = true;
  /** Keepalive in ms (already multiplied); 0 = off. */
  keepaliveMs = 0;
  lastActivity: number;
  /** Largest packet the client accepts (MQTT 5 Maximum Packet Size); 0 = no limit. */
  clientMaxPacketSize = 0;
  /** MQTT 5 session expiry the CONNECT asked for, in seconds (for the DISCONNECT rule). */
  connectSessionExpiry = 0;
  /** The client's Topic Alias Maximum from CONNECT; 0 = it takes no aliases. */
  clientTopicAliasMax = 0;
  // Topic aliases both ways, made on first use (MQTT 5 clients that use aliases only): an empty
  // Map costs about 250 bytes a connection.
  #inboundAliases: Map<number, string> | null = null;
  #outboundAliases: Map<string, number> | null = null;
  // Decoder state only while a packet is split across reads (or after a decoding error); between
  // packets, which is nearly always for an idle client, the channel keeps just the protocol level
  // the stream is decoded at, and a read makes a decoder for itself (~110 bytes per connection).
  #decoder: PacketDecoder | null = null;
  #wireVersion: ProtocolVersion = 4;

  constructor(
    host: ChannelHost,
    opts: {
      connId: number;
      peer: string;
      listener: string;
      assignedClientId: string;
      connInfo?: ConnInfo;
    },
  ) {
    this.host = host;
    this.connId = opts.connId;
    this.peer = opts.peer;
    this.listener = opts.listener;
    this.assignedClientId = opts.assignedClientId;
    this.connInfo = opts.connInfo ?? DEFAULT_CONN_INFO;
    this.lastActivity = host.now();
  }

  /** Feeds bytes from the socket; packets are handled in order until one fails. */
  handleBytes(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    this.lastActivity = this.host.now();
    this.host.metrics.add("bytes.received", bytes.byteLength);
    const decoder = this.#decoder ?? new PacketDecoder({
      maxPacketSize: this.host.config.mqtt.maxPacketSize,
      protocolVersion: this.#wireVersion,
    });
    const results = decoder.push(bytes);
    this.#wireVersion = decoder.protocolVersion;
    this.#decoder = decoder.idle ? null : decoder;
    for (const result of results) {
      if (this.isClosed()) return;
      if (!result.ok) {
        this.#fail(new MqttError(result.reasonCode, result.message), true);
        return;
      }
      this.host.metrics.packetIn(
        result.packet.cmd,
        result.packet.cmd === "publish" ? result.packet.qos : 0,
      );
      try {
        dispatchPacket(this, result.packet);
      } catch (err) {
        if (err instanceof MqttError) this.#fail(err, false);
        else {
          this.host.log.error("Handler failed for {clientId} ({peer}): {err}", {
            clientId: this.clientId,
            peer: this.peer,
            err: String(err instanceof Error ? err.stack : err),
          });
          this.#fail(new MqttError(ReasonCode.UnspecifiedError, String(err)), false);
        }
      }
    }
  }

  /** The topic an inbound Topic Alias stands for (MQTT 5 section 3.3.2.3.4). */
  inboundAlias(alias: number): string | undefined {
    return this.#inboundAliases?.get(alias);
  }

  setInboundAlias(alias: number, topic: string): void {
    (this.#inboundAliases ??= new Map()).set(alias, topic);
  }

  /** Re-reads the state: handlers may have closed the channel meanwhile. */
  isClosed(): boolean {
    return this.state === "closed";
  }

  /** Encodes and writes one packet to the client. */
  send(packet: Packet): void {
    if (this.state === "closed") return;
    const bytes = encodePacket(packet, this.protocolVersion);
    this.host.write(this.connId, bytes);
    this.host.metrics.packetOut(packet.cmd, 0, bytes.byteLength);
  }

  /** SessionOutput: sends a delivery; false when it exceeds the client's Maximum Packet Size. */
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean {
    const m = d.message;
    const v5 = this.protocolVersion === 5;
    // Outbound topic alias (MQTT 5 section 3.3.2.3.4): a known topic goes as its alias with an
    // empty name; a new one gets the next alias while the client's Topic Alias Maximum allows.
    let topicAlias = 0;
    let aliasOnly = false;
    let newAlias = false;
    if (v5 && this.clientTopicAliasMax > 0) {
      const known = this.#outboundAliases?.get(m.topic);
      const used = this.#outboundAliases?.size ?? 0;
      if (known !== undefined) {
        topicAlias = known;
        aliasOnly = true;
      } else if (used < this.clientTopicAliasMax) {
        topicAlias = used + 1;
        newAlias = true;
      }
    }
    const expirySeconds = v5 ? remainingExpirySeconds(m, this.host.now()) : 0;
    const bytes = encodePublish(m, {
      qos: d.qos,
      retain: d.retain,
      dup,
      packetId,
      protocolVersion: this.protocolVersion,
      topicAlias,
      aliasOnly,
      subscriptionIds: d.subscriptionIds,
      expirySeconds,
    });
    if (this.clientMaxPacketSize > 0 && bytes.byteLength > this.clientMaxPacketSize) return false;
    if (this.state === "closed") return true;
    if (newAlias) (this.#outboundAliases ??= new Map()).set(m.topic, topicAlias);
    this.host.write(this.connId, bytes);
    this.host.metrics.packetOut("publish", d.qos, bytes.byteLength);
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
    if (this.state === "closed") return;
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
    if (this.state === "closed") return;
    const wasConnected = this.state === "connected";
    this.state = "closed";
    this.host.closeConnection(this.connId);
    this.host.released(this);
    if (!wasConnected || !this.session) return;
    this.host.registry.channelClosed(this, opts.publishWill ? this.will : null, reason);
    this.will = null;
    this.host.sys.clientDisconnected(this.eventFacts(), reason, this.host.now());
  }

  /** Who the client says it is, for authentication methods. */
  authContext(): AuthContext {
    return { clientId: this.clientId, username: this.username, peer: this.peer };
  }

  /** What $SYS client events say about this connection. */
  eventFacts(): ClientEvent {
    return {
      clientId: this.clientId,
      username: this.username,
      peer: this.peer,
      protocolVersion: this.protocolVersion,
      keepalive: this.keepalive,
      cleanStart: this.cleanStart,
    };
  }

  /** Keepalive check [MQTT-3.1.2-24]: 1.5 × keepalive (configurable) without a packet. */
  checkKeepalive(now: number): void {
    // An exchange that stalls gets as long as a CONNECT would have.
    if (
      this.state === "authenticating" && now - this.lastActivity > this.host.config.mqtt.idleTimeout
    ) {
      this.terminate("auth_timeout", { publishWill: false });
      return;
    }
    if (this.state !== "connected" || this.keepaliveMs === 0) return;
    if (now - this.lastActivity > this.keepaliveMs) {
      this.host.log.info("Keepalive timeout for {clientId} ({peer})", {
        clientId: this.clientId,
        peer: this.peer,
      });
      this.disconnect(ReasonCode.KeepAliveTimeout, "keepalive_timeout");
    }
  }

  #fail(err: MqttError, malformed: boolean): void {
    this.host.log.warn("Closing {clientId} ({peer}): {message} (reason 0x{code})", {
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
  }
}
