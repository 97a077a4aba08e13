/**
 * The shard's half of the supervisor → shard request/reply (Request and Reply records): one
 * function per method, each answering from this shard's own state only, synchronously, as JSON.
 * The supervisor (src/supervisor/broker_control.ts) sends a request to the one shard that owns a
 * client id or a retained topic, or to every shard, and gathers and pages the answers. Nothing
 * outside a shard reads its state any other way. Methods and their shapes are in
 * docs/contracts.md.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../bytes.ts";
import {
  encodeMessage,
  matches,
  type Message,
  type MessageProperties,
  validateTopicName,
} from "../mqtt/mod.ts";
import type { Config } from "../config/types.ts";
import { clientMethods } from "./_control_clients.ts";
import { authMethods } from "./_control_auth.ts";
import { exportSession, takeoverEnd } from "./_session_move.ts";
import {
  ControlError,
  type ControlMethod,
  type ControlReply,
  isoTime,
  num,
  page,
  str,
} from "./_control_util.ts";

export type { ControlReply };
import type { ShardServices } from "./shard_services.ts";
import type { BanEntry } from "../auth/mod.ts";

function retainedJson(m: Message, withPayload: boolean): Record<string, unknown> {
  return {
    topic: m.topic,
    qos: m.qos,
    publish_at: isoTime(m.timestamp),
    from_clientid: m.origin,
    ...(withPayload ? { payload: encodeBase64(m.payload) } : {}),
  };
}

/** The v5 properties of an API publish (EMQX's POST /publish `properties`, snake_case). */
function propertiesOf(v: unknown): MessageProperties {
  if (typeof v !== "object" || v === null) return {};
  const p = v as Record<string, unknown>;
  const out: {
    -readonly [K in keyof MessageProperties]: MessageProperties[K];
  } = {};
  if (p.payload_format_indicator === 1) out.payloadFormatIndicator = true;
  if (typeof p.content_type === "string") out.contentType = p.content_type;
  if (typeof p.response_topic === "string") out.responseTopic = p.response_topic;
  if (typeof p.correlation_data === "string") {
    out.correlationData = new TextEncoder().encode(p.correlation_data);
  }
  if (typeof p.user_properties === "object" && p.user_properties !== null) {
    out.userProperties = Object.entries(p.user_properties).map(([k, x]) => [k, String(x)]);
  }
  return out;
}

/** One message of a `publish` request (the API's POST /publish, $SYS from the supervisor). */
function messageOf(p: Record<string, unknown>, now: number, maxLevels: number): Message {
  const topic = str(p.topic, "topic");
  validateTopicName(topic, maxLevels);
  const qos = num(p.qos, 0);
  if (qos > 2) throw new ControlError("qos must be 0, 1 or 2");
  const payload = typeof p.payload === "string"
    ? (p.encoding === "base64" ? decodeBase64(p.payload) : new TextEncoder().encode(p.payload))
    : new Uint8Array(0);
  const expiry = num(p.message_expiry_interval, 0);
  return {
    topic,
    payload,
    qos: qos as 0 | 1 | 2,
    retain: p.retain === true,
    properties: propertiesOf(p.properties),
    origin: typeof p.from === "string" ? p.from : "",
    expiresAt: expiry > 0 ? now + expiry * 1000 : 0,
    timestamp: now,
  };
}

const METHODS: Readonly<Record<string, ControlMethod>> = {
  ...clientMethods,
  ...authMethods,
  /**
   * Another node takes the client over (issue 15, TAKEOVER_BEGIN): its connection here ends with
   * 0x8E and its session is exported, then kept collecting pendings; null when there is none.
   */
  "clients.takeover"(svc, params) {
    const to = typeof params.node === "string" ? params.node : "";
    return exportSession(svc, str(params.clientid, "clientid"), to);
  },
  /**
   * TAKEOVER_FENCE passing this node: answered after the route records before it were applied
   * and behind the forwards this shard wrote before it (takeover_fence.ts).
   */
  "cluster.fence"() {
    return true;
  },
  /** TAKEOVER_END: the pendings of the session moving away, which is then forgotten here. */
  "clients.takeover_end"(svc, params) {
    const from = typeof params.node === "string" ? params.node : "";
    return takeoverEnd(svc, str(params.clientid, "clientid"), from);
  },
  /** This shard's counts (the supervisor sums them; topics are replicated, it takes the max). */
  stats(svc) {
    let subscriptions = 0;
    let shared = 0;
    for (const s of svc.registry.sessions()) {
      subscriptions += s.subscriptions.size;
      for (const f of s.subscriptions.keys()) {
        if (f.startsWith("$share/") || f.startsWith("$queue/")) shared++;
      }
    }
    return {
      "connections.count": svc.registry.connectedCount,
      "live_connections.count": svc.registry.connectedCount,
      "sessions.count": svc.registry.size,
      "subscriptions.count": subscriptions,
      "subscriptions.shared.count": shared,
      "suboptions.count": subscriptions,
      "subscribers.count": subscriptions,
      "retained.count": svc.broker.retainer.size,
      "topics.count": svc.broker.routes.size + svc.broker.shared.size,
      "delayed.count": svc.delayed?.size ?? 0,
    };
  },
  /** This shard's counters, EMQX's metric names. */
  metrics(svc) {
    return { ...svc.metrics.snapshot(), ...svc.security.metrics.snapshot() };
  },
  /** Publishes messages from outside a client; answers one reason code per message. */
  publish(svc, params) {
    const list = Array.isArray(params.messages) ? params.messages : [];
    const source = params.source === "sys" ? "sys" : "api";
    const now = svc.clock.now();
    const maxLevels = svc.config.mqtt.maxTopicLevels;
    const messages = list.map((p) => messageOf(p as Record<string, unknown>, now, maxLevels));
    return messages.map((m) => svc.broker.publish(m, source));
  },
  /** A ban added anywhere in the node: kept here, and the live clients it covers are kicked. */
  "banned.add"(svc, params) {
    const e = params.entry as BanEntry | undefined;
    if (!e || typeof e.as !== "string" || typeof e.who !== "string") {
      throw new ControlError("entry must be a ban {as, who, ...}");
    }
    svc.security.applyBan(e);
    return true;
  },
  "banned.delete"(svc, params) {
    return svc.security.banned.delete(
      str(params.as, "as") as BanEntry["as"],
      str(params.who, "who"),
    );
  },
  /** Authentication and authorization counters of this shard (EMQX's names). */
  "auth.metrics"(svc) {
    return svc.security.metrics.snapshot();
  },
  /**
   * The route table (replicated: any one shard answers for all). With `self` (this node's name)
   * the other nodes' routes follow this node's, one row per (filter, node), each with its node
   * (EMQX lists the routes of every node); `node` keeps one node's rows.
   */
  "topics.list"(svc, params) {
    const topic = typeof params.topic === "string" ? params.topic : null;
    const self = typeof params.self === "string" ? params.self : null;
    const node = typeof params.node === "string" ? params.node : null;
    if (self === null) {
      return page(
        svc.broker.routes.entries(),
        params,
        ([filter]) => topic === null || filter === topic,
        ([filter]) => ({ topic: filter }),
      );
    }
    function* rows(): Generator<[string, string]> {
      if (node === null || node === self) {
        for (const [filter] of svc.broker.routes.entries()) yield [filter, self!];
      }
      for (const [filter, nodes] of svc.broker.nodes.entries()) {
        for (const n of nodes) if (node === null || node === n) yield [filter, n];
      }
    }
    return page(
      rows(),
      params,
      ([filter]) => topic === null || filter === topic,
      ([filter, n]) => ({ topic: filter, node: n }),
    );
  },
  /** This shard's retained messages, without payloads. */
  "retained.list"(svc, params) {
    const topic = typeof params.topic === "string" ? params.topic : null;
    const now = svc.clock.now();
    return page(
      svc.broker.retainer.entries(),
      params,
      (m) => (topic === null || m.topic === topic) && (m.expiresAt === 0 || m.expiresAt > now),
      (m) => retainedJson(m, false),
    );
  },
  /**
   * A page of this shard's retained messages for another node's copy (issue 15: full set on
   * link up): `[topic, base64 encoded Message]` pairs; `$SYS` stays per node.
   */
  "retained.export"(svc, params) {
    const now = svc.clock.now();
    return page(
      svc.broker.retainer.entries(),
      params,
      (m) => !m.topic.startsWith("$SYS/") && (m.expiresAt === 0 || m.expiresAt > now),
      (m) => [m.topic, encodeBase64(encodeMessage(m))],
    );
  },
  /** One retained message with its payload (base64), or null. */
  "retained.get"(svc, params) {
    const m = svc.broker.retainer.get(str(params.topic, "topic"), svc.clock.now());
    return m ? retainedJson(m, true) : null;
  },
  "retained.delete"(svc, params) {
    return svc.broker.retainer.delete(str(params.topic, "topic"));
  },
  /**
   * Deletes the retained messages whose topic matches `topic` (a filter; all when absent); how
   * many, or with `list` their topics (the cluster sends their clears to the other nodes).
   */
  "retained.clean"(svc, params) {
    const filter = typeof params.topic === "string" ? params.topic : "#";
    const doomed: string[] = [];
    for (const m of svc.broker.retainer.entries()) {
      if (matches(filter, m.topic)) doomed.push(m.topic);
    }
    for (const t of doomed) svc.broker.retainer.delete(t);
    return params.list === true ? doomed : doomed.length;
  },
  /**
   * A run-time config change (src/supervisor/reload.ts): the keys that can change without a
   * restart take effect for what happens next; open connections stay open.
   */
  "config.update"(svc, params) {
    const next = params.config as Config | undefined;
    if (!next || typeof next !== "object" || !next.mqtt || !next.log) {
      throw new ControlError("config must be a whole Config");
    }
    svc.reconfigure(next);
    return true;
  },
};

/** Answers one request; a bad request or a failing method gives an error reply, never a throw. */
export function handleControl(
  svc: ShardServices,
  method: string,
  params: string,
): ControlReply | Promise<ControlReply> {
  const fn = METHODS[method];
  if (!fn) return { ok: false, body: `unknown method ${method}` };
  try {
    const parsed = params === "" ? {} : JSON.parse(params);
    const result = fn(svc, typeof parsed === "object" && parsed !== null ? parsed : {});
    // A method that waits for the store answers later (takeover of a durable session).
    if (result instanceof Promise) {
      return result.then(
        (r: unknown) => ({ ok: true, body: JSON.stringify(r ?? null) }),
        (err: unknown) => failed(svc, method, err),
      );
    }
    return { ok: true, body: JSON.stringify(result ?? null) };
  } catch (err) {
    return failed(svc, method, err);
  }
}

/** The error reply; an unexpected error (a bug, not bad input) is logged with its stack. */
function failed(svc: ShardServices, method: string, err: unknown): ControlReply {
  const known = err instanceof ControlError || err instanceof SyntaxError ||
    (err instanceof Error && "reasonCode" in err);
  if (!known) {
    svc.log.error("Control request {method} failed: {err}", {
      method,
      err: String(err instanceof Error ? err.stack : err),
    });
  }
  return { ok: false, body: err instanceof Error ? err.message : String(err) };
}
