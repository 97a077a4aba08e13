/**
 * Inbound PUBLISH [MQTT-3.3]: topic alias, topic and capability checks, the QoS 2 duplicate
 * rule, then Broker.publish and the acknowledgement. Delivery happens on receipt of the PUBLISH
 * (method A of [MQTT-4.3.3]); the packet id waits in awaiting-rel until PUBREL.
 */

import type { IPublishPacket } from "../../mqtt/mod.ts";
import { fromPublishPacket, MqttError, ReasonCode, validateTopicName } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";

/** Handles one PUBLISH from a client. */
export function handlePublish(ch: Channel, p: IPublishPacket): void {
  const mqtt = ch.host.config.mqtt;
  const v5 = ch.protocolVersion === 5;
  const session = ch.session!;
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    if (!v5 || alias === 0 || alias > mqtt.maxTopicAlias) {
      throw new MqttError(ReasonCode.TopicAliasInvalid, `Topic alias ${alias} is out of range`);
    }
    if (topic === "") {
      const known = ch.inboundAliases.get(alias);
      if (known === undefined) {
        throw new MqttError(ReasonCode.ProtocolError, `Topic alias ${alias} was never set`);
      }
      topic = known;
    } else {
      ch.inboundAliases.set(alias, topic);
    }
  }
  validateTopicName(topic, mqtt.maxTopicLevels);
  if (ch.host.faultInjection && topic === "$culex/fault/crash-shard") ch.host.crash();
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
  const now = ch.host.now();
  // Clients may read $SYS but never write it; the message is dropped, QoS flows still complete.
  const denied = topic.startsWith("$SYS");
  let matched = false;
  if (!denied) {
    const message = fromPublishPacket(alias !== undefined ? { ...p, topic } : p, ch.clientId, now);
    matched = ch.host.broker.publish(message);
  }
  const reasonCode = denied
    ? ReasonCode.NotAuthorized
    : matched
    ? ReasonCode.Success
    : ReasonCode.NoMatchingSubscribers;
  if (qos === 1) {
    ch.send(
      v5
        ? { cmd: "puback", messageId: packetId, reasonCode }
        : { cmd: "puback", messageId: packetId },
    );
  } else if (qos === 2) {
    if (!denied) session.awaitingRel.set(packetId, now);
    ch.send(
      v5
        ? { cmd: "pubrec", messageId: packetId, reasonCode }
        : { cmd: "pubrec", messageId: packetId },
    );
  }
}
