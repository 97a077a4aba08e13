/**
 * Inbound PUBLISH [MQTT-3.3]: topic alias, topic and capability checks, the QoS 2 duplicate
 * rule, authorization (the `client.authorize` hook, which may answer later), then Broker.publish
 * (whose `message.publish` hook may stop it: the $SYS write deny, delayed publish) and the
 * acknowledgement with the reason it gives. Delivery happens on receipt of the PUBLISH (method A
 * of [MQTT-4.3.3]); the packet id waits in awaiting-rel until PUBREL.
 */

import type { IPublishPacket, Message } from "../../mqtt/mod.ts";
import { sendAck } from "./_store_ack.ts";
import {
  fromPublishPacket,
  hasWildcard,
  MqttError,
  ReasonCode,
  validateTopicName,
} from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import { authorize, enforceDenyAction, type Verdict } from "./_authorize.ts";

/** Handles one PUBLISH from a client. */
export function handlePublish(ch: Channel, p: IPublishPacket): void {
  const mqtt = ch.svc.config.mqtt;
  const v5 = ch.protocolVersion === 5;
  const session = ch.session!;
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    if (!v5 || alias === 0 || alias > mqtt.maxTopicAlias) {
      throw new MqttError(ReasonCode.TopicAliasInvalid, `Topic alias ${alias} is out of range`);
    }
    if (topic === "") {
      const known = ch.aliases.inbound(alias);
      if (known === undefined) {
        throw new MqttError(ReasonCode.ProtocolError, `Topic alias ${alias} was never set`);
      }
      topic = known;
    } else {
      ch.aliases.setInbound(alias, topic);
    }
  }
  validateTopicName(topic, mqtt.maxTopicLevels);
  if (p.properties) checkProperties(p.properties);
  const qos = p.qos;
  if (qos > mqtt.maxQosAllowed) {
    throw new MqttError(ReasonCode.QoSNotSupported, `PUBLISH QoS ${qos} is not supported`);
  }
  if (p.retain && !mqtt.retainAvailable) {
    throw new MqttError(ReasonCode.RetainNotSupported, "Retained messages are not supported");
  }
  const packetId = p.messageId ?? 0;
  if (qos === 2 && session.awaitingRel.has(packetId)) {
    // A resent QoS 2 PUBLISH before PUBREL is acknowledged again, never delivered twice.
    sendAck(ch, () => ch.send({ cmd: "pubrec", messageId: packetId }));
    return;
  }
  if (qos === 2 && session.awaitingRel.size >= mqtt.maxAwaitingRel && mqtt.maxAwaitingRel > 0) {
    throw new MqttError(
      ReasonCode.ReceiveMaximumExceeded,
      "Too many QoS 2 messages awaiting PUBREL",
    );
  }
  const verdict = authorize(ch, { type: "publish", topic, qos, retain: p.retain });
  if (verdict instanceof Promise) ch.suspendUntil(verdict, (v) => route(ch, p, topic, v));
  else route(ch, p, topic, verdict);
}

/**
 * MQTT 5 properties a client may not send in a PUBLISH: both are data the protocol does not
 * allow, a Protocol Error (section 1.2) that closes the connection [MQTT-4.13.1-1].
 */
function checkProperties(props: NonNullable<IPublishPacket["properties"]>): void {
  // [MQTT-3.3.4-6] Subscription Identifiers flow only from the server (3.3.2.3.8).
  if (props.subscriptionIdentifier !== undefined) {
    throw new MqttError(
      ReasonCode.ProtocolError,
      "PUBLISH from a client has a Subscription Identifier",
    );
  }
  // [MQTT-3.3.2-14] The Response Topic is a topic name for the reply: no wildcards.
  if (props.responseTopic !== undefined && hasWildcard(props.responseTopic)) {
    throw new MqttError(ReasonCode.ProtocolError, "PUBLISH Response Topic has a wildcard");
  }
}

/**
 * Publishes an authorized message and acknowledges with the broker's reason. When the publish
 * wrote to the store (a retained message on disc, a delayed message kept there), the
 * acknowledgement follows the pass's commit; a refused commit answers 0x97 (full) or 0x80 on
 * MQTT 5 and closes a 3.x connection, which has no such codes.
 */
function route(ch: Channel, p: IPublishPacket, topic: string, verdict: Verdict): void {
  const { clock, broker, metrics, log } = ch.svc;
  const now = clock.now();
  const mark = ch.svc.store?.mark() ?? 0; // what the store had before this publish
  let reasonCode: number;
  if (verdict === "deny") {
    // EMQX: QoS 0 dropped, QoS 1/2 acknowledged with 0x87 (MQTT 5); the message goes nowhere.
    log.info("PUBLISH from {clientId} to {topic} not authorized", { clientId: ch.clientId, topic });
    enforceDenyAction(ch, `PUBLISH to ${topic}`);
    metrics.add("messages.dropped");
    ch.recvDropped++;
    reasonCode = ReasonCode.NotAuthorized;
  } else {
    const message = fromPublishPacket(p, ch.clientId, now, topic);
    const store = ch.svc.store;
    if (store?.durable && p.qos > 0) {
      reasonCode = publishDurable(ch, message, p.messageId ?? 0, now);
    } else reasonCode = broker.publish(message, "client");
    if (reasonCode === ReasonCode.NoMatchingSubscribers) {
      metrics.add("messages.dropped");
      metrics.add("messages.dropped.no_subscribers");
      ch.recvDropped++;
    }
  }
  acknowledge(ch, p.qos, p.messageId ?? 0, reasonCode, now, mark);
}

/**
 * Durable mode, QoS 1/2: the publish's ops (its deliveries to persistent sessions here, the
 * publisher's awaiting-PUBREL row) go in one part under a commit token that the destination
 * shards' parts join, so one transaction has all of them or none (docs/store.md).
 */
function publishDurable(ch: Channel, message: Message, packetId: number, now: number): number {
  const store = ch.svc.store!;
  const durable = ch.session!.durable;
  store.openPublish();
  try {
    const reasonCode = ch.svc.broker.publish(message, "client");
    // In the same part as the deliveries (one transaction): after a crash a resent PUBLISH is
    // either known (and not delivered again) or was delivered nowhere.
    if (message.qos === 2 && durable && reasonCode < 0x80) {
      store.batch.awaitRel(durable.sid, packetId, now);
    }
    return reasonCode;
  } finally {
    // Also when a hook threw (a refused $delayed publish): an open publish holds every flush.
    store.endToken();
  }
}

/**
 * PUBACK (QoS 1) or PUBREC (QoS 2) with the reason (MQTT 5 only; 3.x has no codes). A QoS 2
 * packet id waits for PUBREL only when the message was accepted [MQTT-4.3.3].
 */
function acknowledge(
  ch: Channel,
  qos: number,
  packetId: number,
  reasonCode: number,
  now: number,
  mark: number,
) {
  if (qos === 0) return;
  const v5 = ch.protocolVersion === 5;
  if (qos === 2 && reasonCode < 0x80) ch.session!.awaitRel(packetId, now);
  const store = ch.svc.store;
  if (!store) {
    ch.send(pubAck(qos, packetId, v5, reasonCode));
    return;
  }
  sendAck(ch, (refused) => {
    if (refused === null) {
      ch.send(pubAck(qos, packetId, v5, reasonCode));
      return;
    }
    // Not committed: the message is not accepted. MQTT 5 says why; 3.1.1 has no code, so the
    // connection closes and the client resends after reconnecting.
    if (qos === 2) ch.session?.releaseRel(packetId);
    if (!v5) {
      ch.disconnect(ReasonCode.UnspecifiedError, "store_refused");
      return;
    }
    const code = refused.code === "full" ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError;
    ch.send(pubAck(qos, packetId, v5, code));
  }, mark);
}

function pubAck(qos: number, packetId: number, v5: boolean, reasonCode: number) {
  const cmd = qos === 1 ? "puback" as const : "pubrec" as const;
  return v5 ? { cmd, messageId: packetId, reasonCode } : { cmd, messageId: packetId };
}
