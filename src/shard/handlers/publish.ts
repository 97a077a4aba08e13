/**
 * Inbound PUBLISH [MQTT-3.3]: topic alias, topic and capability checks, the QoS 2 duplicate
 * rule, then Broker.publish and the acknowledgement. Delivery happens on receipt of the PUBLISH
 * (method A of [MQTT-4.3.3]); the packet id waits in awaiting-rel until PUBREL.
 */

import type { IPublishPacket } from "../../mqtt/mod.ts";
import {
  fromPublishPacket,
  type Message,
  MqttError,
  ReasonCode,
  validateTopicName,
} from "../../mqtt/mod.ts";
import { parseDelayedTopic } from "../delayed.ts";
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
      const known = ch.inboundAlias(alias);
      if (known === undefined) {
        throw new MqttError(ReasonCode.ProtocolError, `Topic alias ${alias} was never set`);
      }
      topic = known;
    } else {
      ch.setInboundAlias(alias, topic);
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
  let reasonCode: number = ReasonCode.NotAuthorized;
  if (!denied) {
    const delayed = ch.host.config.delayed.enable ? delayedTarget(ch, topic, qos, packetId) : null;
    if (delayed === "refused") return;
    const message = fromPublishPacket(p, ch.clientId, now, delayed?.topic ?? topic);
    if (delayed) {
      reasonCode = scheduleDelayed(ch, message, delayed.delayMs, now);
    } else if (ch.host.broker.publish(message)) {
      reasonCode = ReasonCode.Success;
    } else {
      reasonCode = ReasonCode.NoMatchingSubscribers;
      ch.host.metrics.add("messages.dropped");
      ch.host.metrics.add("messages.dropped.no_subscribers");
    }
  }
  acknowledge(ch, qos, packetId, reasonCode, now);
}

/**
 * The real topic and delay of a $delayed/{seconds}/{topic} publish, null for other topics, or
 * "refused" once a malformed one was answered (MQTT 5: reason 0x90; 3.x: acknowledged, dropped).
 */
function delayedTarget(
  ch: Channel,
  topic: string,
  qos: number,
  packetId: number,
): { delayMs: number; topic: string } | null | "refused" {
  try {
    return parseDelayedTopic(topic, ch.host.config.mqtt.maxTopicLevels);
  } catch (err) {
    if (!(err instanceof MqttError)) throw err;
    refuse(ch, qos, packetId, err);
    return "refused";
  }
}

function scheduleDelayed(
  ch: Channel,
  message: Message,
  delayMs: number,
  now: number,
): number {
  try {
    ch.host.delayed.schedule(message, delayMs, now);
    ch.host.metrics.add("messages.delayed");
    return ReasonCode.Success;
  } catch (err) {
    if (!(err instanceof MqttError)) throw err;
    ch.host.log.info("Delayed publish from {clientId} refused: {message}", {
      clientId: ch.clientId,
      message: err.message,
    });
    ch.host.metrics.add("messages.dropped");
    return err.reasonCode;
  }
}

/** Answers a refused PUBLISH with its reason where the QoS has an acknowledgement. */
function refuse(ch: Channel, qos: number, packetId: number, err: MqttError): void {
  ch.host.log.info("PUBLISH from {clientId} refused: {message}", {
    clientId: ch.clientId,
    message: err.message,
  });
  ch.host.metrics.add("messages.dropped");
  acknowledge(ch, qos, packetId, err.reasonCode, ch.host.now());
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
