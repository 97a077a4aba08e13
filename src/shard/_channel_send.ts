/**
 * The sending half of a Channel (channel.ts extends it): packets to the client, deliveries with
 * outbound topic aliases and the client's Maximum Packet Size, CONNACK in the client's protocol
 * version. Private to src/shard/; it writes through the ChannelOutput port only.
 *
 * @module
 */

import {
  connackReturnCodeV3,
  encodePacket,
  encodePublish,
  type Packet,
  payloadApart,
  type PublishFields,
  publishSize,
  remainingExpirySeconds,
  writePublish,
} from "../mqtt/mod.ts";
import type { Clock } from "./clock.ts";
import type { Delivery } from "./delivery.ts";
import type { ClientFacts, Hooks } from "./hooks.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionOutput } from "./session.ts";
import { TopicAliases } from "./topic_alias.ts";
import { ChannelState } from "./_channel_state.ts";

/** The services sending needs. */
export interface SenderServices {
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly hooks: Hooks;
}

/** Where a channel's bytes go. */
export interface SenderOutput {
  write(connId: number, bytes: Uint8Array): void;
  /** Room for `size` bytes after what was written (see ChannelOutput.space). */
  space?(connId: number, size: number): Uint8Array;
}

/** See the file header. */
export abstract class ChannelSender<S extends SenderServices> extends ChannelState
  implements SessionOutput {
  readonly connId: number;
  readonly svc: S;
  readonly #out: SenderOutput;
  /**
   * This connection's outbound counters (EMQX's `send_pkt`, `send_oct`, `send_msg.qos0..2`):
   * plain number fields, so counting costs the send path no allocation.
   */
  sendPkt = 0;
  sendOct = 0;
  sendQos0 = 0;
  sendQos1 = 0;
  sendQos2 = 0;
  #aliases: TopicAliases | null = null;

  constructor(out: SenderOutput, svc: S, connId: number) {
    super();
    this.#out = out;
    this.svc = svc;
    this.connId = connId;
  }

  /** What hooks are told about this connection. */
  abstract facts(): ClientFacts;

  /** Topic aliases both ways (MQTT 5), made on first use: most connections never use them. */
  get aliases(): TopicAliases {
    return this.#aliases ??= new TopicAliases();
  }

  /** Encodes and writes one packet to the client. */
  send(packet: Packet): void {
    if (this.isClosed()) return;
    const bytes = encodePacket(packet, this.protocolVersion);
    this.#out.write(this.connId, bytes);
    this.sendPkt++;
    this.sendOct += bytes.byteLength;
    this.svc.metrics.packetOut(packet.cmd, 0, bytes.byteLength);
  }

  /** SessionOutput: sends a delivery; false when it exceeds the client's Maximum Packet Size. */
  sendPublish(packetId: number, d: Delivery, dup: boolean): boolean {
    const m = d.message;
    const v5 = this.protocolVersion === 5;
    const alias = v5 && this.clientTopicAliasMax > 0
      ? this.aliases.outbound(m.topic, this.clientTopicAliasMax)
      : null;
    const f: PublishFields = {
      qos: d.qos,
      retain: d.retain,
      dup,
      packetId,
      protocolVersion: this.protocolVersion,
      topicAlias: alias?.alias ?? 0,
      aliasOnly: alias?.aliasOnly ?? false,
      subscriptionIds: d.subscriptionIds,
      expirySeconds: v5 ? remainingExpirySeconds(m, this.svc.clock.now()) : 0,
    };
    const size = publishSize(m, f);
    const max = this.clientMaxPacketSize;
    if (max > 0 && size > max) return false;
    if (this.isClosed()) return true;
    if (alias) this.aliases.commit(m.topic, alias);
    const apart = payloadApart(m); // a big payload goes behind the header, uncopied
    const out = this.#out;
    if (!apart && out.space) {
      // Encoded in place in the connection's batch: no buffer of its own (_outbound.ts).
      writePublish(m, f, out.space(this.connId, size));
    } else {
      out.write(this.connId, encodePublish(m, f, apart));
      if (apart) out.write(this.connId, m.payload);
    }
    this.sendPkt++;
    this.sendOct += size;
    if (d.qos === 0) this.sendQos0++;
    else if (d.qos === 1) this.sendQos1++;
    else this.sendQos2++;
    this.svc.metrics.packetOut("publish", d.qos, size);
    this.svc.hooks.run("message.delivered", this.clientId, m);
    return true;
  }

  sendPubrel(packetId: number): void {
    this.send({ cmd: "pubrel", messageId: packetId });
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
}
