/**
 * The broker's own `message.publish` callbacks, the first on that hook: clients may read $SYS
 * but never write it (MQTT 5: 0x87), and `$delayed/{seconds}/{topic}` (EMQX; `$delay/...` as in
 * the older EMQ X docs) is held by DelayedPublish and published to {topic} when due. Owns no
 * state: DelayedPublish keeps the held messages.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type Message, MqttError, ReasonCode } from "../mqtt/mod.ts";
import { type DelayedPublish, parseDelayedTopic } from "./delayed.ts";
import type { Hooks, PublishSource, PublishVerdict } from "./hooks.ts";
import type { Metrics } from "./metrics.ts";

/** Priorities on `message.publish`: these run before any feature's callback. */
export const SYS_DENY_PRIORITY = 1000;
export const DELAYED_PRIORITY = 900;

const SYS_DENIED: PublishVerdict = {
  reasonCode: ReasonCode.NotAuthorized,
  reason: "$SYS is written by the broker only",
};
const DELAYED: PublishVerdict = { reasonCode: ReasonCode.Success, reason: "delayed" };

/** What the callbacks need. */
export interface PublishRulesDeps {
  readonly delayed: DelayedPublish | null;
  readonly maxTopicLevels: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Adds the $SYS write deny and, when enabled, delayed publish to `hooks`. */
export function addPublishRules(hooks: Hooks, deps: PublishRulesDeps): void {
  hooks.add("message.publish", function denySysWrite(m: Message, source: PublishSource) {
    if (source === "sys" || source === "api" || !m.topic.startsWith("$SYS")) return;
    deps.metrics.add("messages.dropped");
    return SYS_DENIED;
  }, { priority: SYS_DENY_PRIORITY });
  const delayed = deps.delayed;
  if (delayed === null) return;
  hooks.add("message.publish", function delayPublish(m: Message, source: PublishSource) {
    if (source === "delayed" || !m.topic.startsWith("$delay")) return;
    try {
      const target = parseDelayedTopic(m.topic, deps.maxTopicLevels);
      if (target === null) return;
      delayed.schedule({ ...m, topic: target.topic }, target.delayMs, m.timestamp);
    } catch (err) {
      if (!(err instanceof MqttError)) throw err;
      deps.log.info("Delayed publish from {clientId} refused: {message}", {
        clientId: m.origin,
        message: err.message,
      });
      deps.metrics.add("messages.dropped");
      return { reasonCode: err.reasonCode, reason: err.message };
    }
    deps.metrics.add("messages.delayed");
    return DELAYED;
  }, { priority: DELAYED_PRIORITY });
}
