/**
 * SUBSCRIBE and UNSUBSCRIBE [MQTT-3.8, 3.10]: per-filter validation, authorization (the
 * `client.authorize` hook, which may answer later), reason codes, the route update before SUBACK
 * (Broker.subscribe commits it; when a peer ring is congested the SUBACK waits until the route
 * record is in that ring), then retained messages per retain handling.
 */

import type { ISubscribePacket, ISubscription, IUnsubscribePacket } from "../../mqtt/mod.ts";
import {
  hasWildcard,
  MqttError,
  parseShared,
  ReasonCode,
  validateTopicFilter,
} from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import type { SubOptions } from "../session.ts";
import { authorize, enforceDenyAction, type Verdict } from "./_authorize.ts";

/** Handles SUBSCRIBE: one granted QoS or failure code per filter, in order [MQTT-3.8.4-6]. */
export function handleSubscribe(ch: Channel, p: ISubscribePacket): void {
  const v5 = ch.protocolVersion === 5;
  if (v5 && p.properties?.subscriptionIdentifier === 0) {
    throw new MqttError(ReasonCode.ProtocolError, "Subscription identifier 0 is not allowed");
  }
  const verdicts: (Verdict | Promise<Verdict> | number)[] = [];
  let later = false;
  for (const s of p.subscriptions) {
    const shared = parseShared(s.topic);
    if (shared && v5 && s.nl) {
      throw new MqttError(ReasonCode.ProtocolError, "No Local on a shared subscription"); // [MQTT-3.8.3-4]
    }
    const code = checkFilter(ch, s.topic);
    if (code !== 0) {
      verdicts.push(code);
      continue;
    }
    // A shared subscription is authorized for its real filter, as EMQX does.
    const topic = shared ? shared.filter : s.topic;
    const v = authorize(ch, { type: "subscribe", topic, qos: s.qos, retain: false });
    if (v instanceof Promise) later = true;
    verdicts.push(v);
  }
  if (later) ch.suspendUntil(Promise.all(verdicts), (all) => subscribeAll(ch, p, all));
  else subscribeAll(ch, p, verdicts as (Verdict | number)[]);
}

/** Subscribes what was allowed; the SUBACK waits for the route records if they had to park. */
function subscribeAll(ch: Channel, p: ISubscribePacket, verdicts: (Verdict | number)[]): void {
  if (verdicts.includes("deny")) enforceDenyAction(ch, "SUBSCRIBE");
  const { config, broker } = ch.svc;
  const mqtt = config.mqtt;
  const session = ch.session!;
  const v5 = ch.protocolVersion === 5;
  const subId = v5 ? p.properties?.subscriptionIdentifier ?? 0 : 0;
  const granted: number[] = [];
  const retained: { filter: string; opts: SubOptions }[] = [];
  const store = ch.svc.store;
  const mark = store?.mark() ?? 0;
  for (const [i, s] of p.subscriptions.entries()) {
    const verdict = verdicts[i]!;
    if (verdict !== "allow") {
      const code = verdict === "deny" ? ReasonCode.NotAuthorized : verdict;
      granted.push(v5 ? code : 0x80); // 3.1.1 has one failure code [MQTT-3.9.3]
      continue;
    }
    const isNew = !session.subscriptions.has(s.topic);
    if (isNew && mqtt.maxSubscriptions > 0 && session.subscriptions.size >= mqtt.maxSubscriptions) {
      granted.push(v5 ? ReasonCode.QuotaExceeded : 0x80);
      continue;
    }
    const opts = grantedOptions(s, mqtt.maxQosAllowed, v5, subId);
    broker.subscribe(session, s.topic, opts);
    if (session.durable) store?.batch.subscribe(session.durable.sid, s.topic, opts);
    granted.push(opts.qos);
    const hooks = ch.svc.hooks;
    if (hooks.has("session.subscribed")) {
      hooks.run("session.subscribed", ch.facts(), s.topic, opts.qos);
    }
    // [MQTT-3.3.1-9..11]: 0 always, 1 only for a new subscription, 2 never; and never for a
    // shared subscription (MQTT 5 section 4.8.2).
    if (parseShared(s.topic)) continue;
    if (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew)) {
      retained.push({ filter: s.topic, opts });
    }
  }
  const finish = () => {
    ch.send({ cmd: "suback", messageId: p.messageId ?? 0, granted });
    for (const r of retained) broker.requestRetained(session.clientId, r.filter, r.opts);
  };
  // Route before SUBACK, also under congestion: a route record parked in a full peer ring's
  // overflow is not yet visible to that shard, so the SUBACK waits until it is (DESIGN.md).
  const shardsRouted = broker.routesCommitted();
  // Across nodes too (cluster.route_sync = sync): the peers' shards have the new node routes.
  const nodesRouted = config.cluster.routeSync === "sync" ? broker.nodes.routesSynced() : null;
  const routed = shardsRouted && nodesRouted
    ? Promise.all([shardsRouted, nodesRouted])
    : shardsRouted ?? nodesRouted;
  // Durable mode: the SUBACK also waits for the subscriptions' commit.
  const stored = store?.wroteSince(mark) ? store.committed() : null;
  const committed: Promise<unknown> | null = stored && routed
    ? Promise.all([routed, stored])
    : stored ?? routed;
  if (committed) {
    if (shardsRouted) {
      ch.svc.log.debug("SUBACK for {clientId} waits for congested peer rings", {
        clientId: ch.clientId,
      });
    }
    ch.suspendUntil(committed, finish);
  } else finish();
}

function grantedOptions(s: ISubscription, maxQos: number, v5: boolean, subId: number): SubOptions {
  return {
    qos: Math.min(s.qos, maxQos) as 0 | 1 | 2,
    noLocal: v5 && s.nl === true,
    retainAsPublished: v5 && s.rap === true,
    retainHandling: (v5 ? s.rh ?? 0 : 0) as 0 | 1 | 2,
    subscriptionId: subId,
  };
}

/** Handles UNSUBSCRIBE; MQTT 5 says per filter whether a subscription existed. */
export function handleUnsubscribe(ch: Channel, p: IUnsubscribePacket): void {
  const { broker, hooks } = ch.svc;
  const session = ch.session!;
  const codes: number[] = [];
  const store = ch.svc.store;
  const mark = store?.mark() ?? 0;
  for (const filter of p.unsubscriptions) {
    const existed = broker.unsubscribe(session, filter);
    if (existed && session.durable) store?.batch.unsubscribe(session.durable.sid, filter);
    codes.push(existed ? 0 : ReasonCode.NoSubscriptionExisted);
    if (existed && hooks.has("session.unsubscribed")) {
      hooks.run("session.unsubscribed", ch.facts(), filter);
    }
  }
  const answer = () => {
    if (ch.protocolVersion === 5) {
      ch.send({ cmd: "unsuback", messageId: p.messageId ?? 0, granted: codes });
    } else {
      ch.send({ cmd: "unsuback", messageId: p.messageId ?? 0, granted: [] });
    }
  };
  if (store?.wroteSince(mark)) ch.suspendUntil(store.committed(), answer);
  else answer();
}

/** 0 when the filter may be subscribed, else the MQTT 5 reason code. */
function checkFilter(ch: Channel, filter: string): number {
  const mqtt = ch.svc.config.mqtt;
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
