/**
 * Inbound PUBLISH [MQTT-3.3]: topic alias, topic and capability checks, the QoS 2 duplicate
 * rule, authorization (the `client.authorize` hook, which may answer later), then Broker.publish
 * (whose `message.publish` hook may stop it: the $SYS write deny, delayed publish) and the
 * acknowledgement with the reason it gives. Delivery happens on receipt of the PUBLISH (method A
 * of [MQTT-4.3.3]); the packet id waits in awaiting-rel until PUBREL.
 */

import type { IPublishPacket } from "../../mqtt/mod.ts";
import { fromPublishPacket, MqttError, ReasonCode, validateTopicName } from "../../mqtt/mod.ts";
import { isRefusal } from "../../store/mod.ts";
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
    ch.send({ cmd: "pubrec", messageId: packetId });
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
 * Publishes an authorized message and acknowledges with the broker's reason. When the publish
 * wrote to the store (a retained message on disc, a delayed message kept there), the
 * acknowledgement follows the pass's commit; a refused commit answers 0x97 (full) or 0x80 on
 * MQTT 5 and closes a 3.x connection, which has no such codes.
 */
function route(ch: Channel, p: IPublishPacket, topic: string, verdict: Verdict): void {
  const { clock, broker, metrics, log } = ch.svc;
  const now = clock.now();
  const store = ch.svc.store ?? null;
  const opsBefore = store?.size ?? 0;
  let reasonCode: number;
  if (verdict === "deny") {
    // EMQX: QoS 0 dropped, QoS 1/2 acknowledged with 0x87 (MQTT 5); the message goes nowhere.
    log.info("PUBLISH from {clientId} to {topic} not authorized", { clientId: ch.clientId, topic });
    enforceDenyAction(ch, `PUBLISH to ${topic}`);
    metrics.add("messages.dropped");
    reasonCode = ReasonCode.NotAuthorized;
  } else {
    reasonCode = broker.publish(fromPublishPacket(p, ch.clientId, now, topic), "client");
    if (reasonCode === ReasonCode.NoMatchingSubscribers) {
      metrics.add("messages.dropped");
      metrics.add("messages.dropped.no_subscribers");
    }
  }
  const packetId = p.messageId ?? 0;
  if (store && p.qos > 0 && store.size > opsBefore) {
    ch.suspendUntil(store.committed(), (r) => {
      let code = reasonCode;
      if (isRefusal(r)) {
        code = r.code === "full" ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError;
        if (ch.protocolVersion !== 5) {
          throw new MqttError(code, `The store refused the message: ${r.message}`);
        }
      }
      acknowledge(ch, p.qos, packetId, code, clock.now());
    });
    return;
  }
  acknowledge(ch, p.qos, packetId, reasonCode, now);
}

/**
 * PUBACK (QoS 1) or PUBREC (QoS 2) with the reason (MQTT 5 only; 3.x has no codes). A QoS 2
 * packet id waits for PUBREL only when the message was accepted [MQTT-4.3.3].
 */
function acknowledge(ch: Channel, qos: number, packetId: number, reasonCode: number, now: number) {
  const v5 = ch.protocolVersion === 5;
  if (qos === 1) {
    ch.send(
      v5
        ? { cmd: "puback", messageId: packetId, reasonCode }
        : { cmd: "puback", messageId: packetId },
    );
  } else if (qos === 2) {
    if (reasonCode < 0x80) ch.session!.awaitRel(packetId, now);
    ch.send(
      v5
        ? { cmd: "pubrec", messageId: packetId, reasonCode }
        : { cmd: "pubrec", messageId: packetId },
    );
  }
}
