/**
 * Channel: the protocol state machine of one client connection (MQTT 3.1, 3.1.1 and 5.0). It
 * decodes the connection's bytes, hands each packet to the dispatcher, and turns every MqttError
 * into exactly one answer (CONNACK or DISCONNECT) plus a close of this connection only. Work that
 * answers later (an authentication backend, an ACL lookup, a route waiting for ring space) is
 * started with suspendUntil(): until its result is handled, this connection's later packets are
 * held in order (bounded: above mqtt.max_held_bytes the socket's reading is paused, nothing is
 * dropped). Output leaves through ChannelOutput; state changes only through the methods here.
 * A Channel owns no socket, ring or timer. It is built in layers, one file each: its state
 * (_channel_state.ts), its sending half (_channel_send.ts), its reading half (_channel_read.ts:
 * bytes to packets, the hold, messages_rate) and the answers and ends here.
 */

import type { Logger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { MqttError, type Packet, ReasonCode, reasonName } from "../mqtt/mod.ts";
import type { EnhancedAuthRegistry } from "../auth/mod.ts";
import type { Broker } from "./broker.ts";
import type { Clock } from "./clock.ts";
import type { ClientFacts, Hooks, PublishVerdict } from "./hooks.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { WorkQueue } from "./work_queue.ts";
import type { ShardStore } from "./durable.ts";
import { ChannelReader } from "./_channel_read.ts";
import { type ConnInfo, DEFAULT_CONN_INFO } from "./conn_info.ts";
import { lastConnectionOf } from "./last_connection.ts";

export type { AuthExchange, ChannelStateName, Established } from "./_channel_state.ts";

/** What a Channel's output needs from its shard: bytes and the connection's socket. */
export interface ChannelOutput {
  write(connId: number, bytes: Uint8Array): void;
  /**
   * Optional: `size` bytes queued after what was written so far, for the caller to fill before
   * it yields (a PUBLISH encoded in place, without a buffer of its own).
   */
  space?(connId: number, size: number): Uint8Array;
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
  /**
   * The shard's per-pass store end (docs/store.md): durable sessions, disc retained, delayed;
   * null when nothing of this shard is stored (memory mode, ram retainer).
   */
  readonly store: ShardStore | null;
  /** The packet dispatcher (handlers/dispatch.ts), injected so channel.ts imports no handler. */
  readonly dispatch: (ch: Channel, packet: Packet) => void;
  /** A refusal of this client before authentication (a ban: 0x8A), or null to go on. */
  admit(client: ClientFacts): PublishVerdict | null;
}

/** Where a connection comes from (the ConnOpen record). */
export interface ChannelInit {
  readonly connId: number;
  readonly peer: string;
  readonly listener: string;
  /** Set by the supervisor when it assigned the id of a CONNECT with an empty one. */
  readonly assignedClientId: string;
  /** Zone, enable_authn, TLS certificate facts, cookie: what the listener says (ConnOpen). */
  readonly connInfo?: ConnInfo;
}

/** One client connection; see the file header. */
export class Channel extends ChannelReader<ChannelServices> {
  readonly peer: string;
  readonly listener: string;
  readonly assignedClientId: string;
  /** Zone, enable_authn, TLS certificate facts, cookie (shared by plain connections). */
  readonly connInfo: ConnInfo;
  readonly #out: ChannelOutput;
  /** Durable mode: acknowledgements waiting for a store commit (later ones queue behind). */
  storeWaits = 0;

  constructor(out: ChannelOutput, svc: ChannelServices, init: ChannelInit) {
    super(out, svc, init.connId);
    this.#out = out;
    this.peer = init.peer;
    this.listener = init.listener;
    this.assignedClientId = init.assignedClientId;
    this.connInfo = init.connInfo ?? DEFAULT_CONN_INFO;
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
    this.stopInput();
    this.#out.close(this.connId);
    this.#out.released(this);
    if (!wasConnected || !session) return;
    if (session.expiryInterval > 0) session.lastConnection = lastConnectionOf(this);
    this.svc.registry.channelClosed(this, session, opts.publishWill ? this.takeWill() : null);
    this.svc.hooks.run("client.disconnected", this.facts(), reason);
  }

  /** What hooks are told about this connection. */
  override facts(): ClientFacts {
    return this.cachedFacts ??= {
      clientId: this.clientId,
      username: this.username,
      peer: this.peer,
      listener: this.listener,
      protocolVersion: this.protocolVersion,
      keepalive: this.keepalive,
      cleanStart: this.cleanStart,
      zone: this.connInfo.zone,
      superuser: this.superuser,
      acl: this.grant?.acl,
      certCommonName: this.connInfo.certCommonName || undefined,
      certSubject: this.connInfo.certSubject || undefined,
      cookie: this.connInfo.cookie || undefined,
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
    if (this.state !== "connected") return;
    const expireAt = this.grant?.expireAt;
    if (expireAt !== undefined && now >= expireAt) {
      // The credential expired (JWT exp): closed as EMQX does, will published.
      this.disconnect(ReasonCode.NotAuthorized, "auth_expired", "credential expired");
      return;
    }
    const ms = this.keepaliveMs;
    if (ms === 0) return;
    if (now - this.lastActivity > ms) {
      this.svc.log.info("Keepalive timeout for {clientId} ({peer})", {
        clientId: this.clientId,
        peer: this.peer,
      });
      this.disconnect(ReasonCode.KeepAliveTimeout, "keepalive_timeout");
    }
  }

  protected override handlePacket(packet: Packet): void {
    this.svc.dispatch(this, packet);
  }

  protected override pauseInput(on: boolean): void {
    this.#out.pauseInput(this.connId, on);
  }

  protected override fail(err: MqttError, malformed: boolean): void {
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
