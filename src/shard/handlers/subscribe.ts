/**
 * SUBSCRIBE and UNSUBSCRIBE [MQTT-3.8, 3.10]: per-filter validation and reason codes, the route
 * update before SUBACK (Broker.subscribe flushes it), then retained messages per retain handling.
 */

import type { ISubscribePacket, IUnsubscribePacket } from "../../mqtt/mod.ts";
import {
  hasWildcard,
  MqttError,
  parseShared,
  ReasonCode,
  validateTopicFilter,
} from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import type { SubOptions } from "../session.ts";

/** Handles SUBSCRIBE: one granted QoS or failure code per filter, in order [MQTT-3.8.4-6]. */
export function handleSubscribe(ch: Channel, p: ISubscribePacket): void {
  const { config, broker } = ch.host;
  const mqtt = config.mqtt;
  const session = ch.session!;
  const v5 = ch.protocolVersion === 5;
  const subId = p.properties?.subscriptionIdentifier ?? 0;
  if (v5 && p.properties?.subscriptionIdentifier === 0) {
    throw new MqttError(ReasonCode.ProtocolError, "Subscription identifier 0 is not allowed");
  }
  const granted: number[] = [];
  const retained: { filter: string; opts: SubOptions }[] = [];
  for (const s of p.subscriptions) {
    const shared = parseShared(s.topic) !== null;
    if (shared && v5 && s.nl) {
      throw new MqttError(ReasonCode.ProtocolError, "No Local on a shared subscription"); // [MQTT-3.8.3-4]
    }
    const code = checkFilter(ch, s.topic);
    if (code !== 0) {
      granted.push(v5 ? code : 0x80);
      continue;
    }
    const isNew = !session.subscriptions.has(s.topic);
    if (isNew && mqtt.maxSubscriptions > 0 && session.subscriptions.size >= mqtt.maxSubscriptions) {
      granted.push(v5 ? ReasonCode.QuotaExceeded : 0x80);
      continue;
    }
    const qos = Math.min(s.qos, mqtt.maxQosAllowed) as 0 | 1 | 2;
    const opts: SubOptions = {
      qos,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
      retainHandling: (v5 ? s.rh ?? 0 : 0) as 0 | 1 | 2,
      subscriptionId: v5 ? subId : 0,
    };
    broker.subscribe(session, s.topic, opts);
    granted.push(qos);
    // [MQTT-3.3.1-9..11]: 0 always, 1 only for a new subscription, 2 never; and never for a
    // shared subscription (MQTT 5 section 4.8.2).
    if (shared) continue;
    if (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew)) {
      retained.push({ filter: s.topic, opts });
    }
  }
  ch.send({ cmd: "suback", messageId: p.messageId ?? 0, granted });
  for (const r of retained) broker.requestRetained(session.clientId, r.filter, r.opts);
}

/** Handles UNSUBSCRIBE; MQTT 5 says per filter whether a subscription existed. */
export function handleUnsubscribe(ch: Channel, p: IUnsubscribePacket): void {
  const { broker } = ch.host;
  const session = ch.session!;
  const codes: number[] = [];
  for (const filter of p.unsubscriptions) {
    codes.push(broker.unsubscribe(session, filter) ? 0 : ReasonCode.NoSubscriptionExisted);
  }
  if (ch.protocolVersion === 5) {
    ch.send({ cmd: "unsuback", messageId: p.messageId ?? 0, granted: codes });
  } else {
    ch.send({ cmd: "unsuback", messageId: p.messageId ?? 0, granted: [] });
  }
}

/** 0 when the filter may be subscribed, else the MQTT 5 reason code. */
function checkFilter(ch: Channel, filter: string): number {
  const mqtt = ch.host.config.mqtt;
  try {
    validateTopicFilter(filter, mqtt.maxTopicLevels);
  } catch (err) {
    if (err instanceof MqttError) return ReasonCode.TopicFilterInvalid;
    throw err;
  }
  if (!mqtt.sharedSubscription && parseShared(filter)) {
    return ReasonCode.SharedSubscriptionsNotSupported;
  }
  if (!mqtt.wildcardSubscription && hasWildcard(filter)) {
    return ReasonCode.WildcardSubscriptionsNotSupported;
  }
  return 0;
}
