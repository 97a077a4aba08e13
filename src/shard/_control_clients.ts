/**
 * Control methods about clients and their sessions (private to src/shard/, listed by
 * control.ts): list with EMQX's filters, one client's details, kick, subscriptions, and
 * subscribe/unsubscribe on a client's behalf. Client objects use EMQX's field names (GET
 * /api/v5/clients). A client here is a session of this shard, connected or not.
 *
 * @module
 */

import { parseShared, ReasonCode, validateTopicFilter } from "../mqtt/mod.ts";
import type { Session, SubOptions } from "./session.ts";
import type { ConnectionView } from "./last_connection.ts";
import type { ShardServices } from "./shard_services.ts";
import { ControlError, type ControlMethod, isoTime, num, page, str } from "./_control_util.ts";

/** One client in EMQX's shape (the fields Culex tracks). */
function clientJson(svc: ShardServices, s: Session): Record<string, unknown> {
  const ch = svc.registry.channelOf(s.clientId);
  // Disconnected: the last connection's facts, as EMQX keeps a channel's info past its end.
  const conn: ConnectionView | null = ch ?? s.lastConnection;
  const peer = conn?.peer ?? "";
  const colon = peer.lastIndexOf(":");
  const mqtt = svc.config.mqtt;
  return {
    clientid: s.clientId,
    username: conn?.username ?? null,
    node: svc.config.node.name,
    ip_address: colon > 0 ? peer.slice(0, colon).replace(/^\[|\]$/g, "") : null,
    port: colon > 0 ? Number(peer.slice(colon + 1)) : null,
    listener: conn?.listener ?? null,
    connected: ch !== undefined,
    created_at: isoTime(s.createdAt),
    connected_at: conn ? isoTime(conn.connectedAt) : null,
    disconnected_at: ch ? null : isoTime(s.disconnectedAt),
    clean_start: conn?.cleanStart ?? false,
    keepalive: conn?.keepalive ?? 0,
    expiry_interval: s.expiryInterval === Infinity
      ? 0xffffffff
      : Math.floor(s.expiryInterval / 1000),
    proto_name: conn?.protocolVersion === 3 ? "MQIsdp" : "MQTT",
    proto_ver: conn?.protocolVersion ?? null,
    is_bridge: false,
    is_persistent: s.expiryInterval > 0,
    subscriptions_cnt: s.subscriptions.size,
    subscriptions_max: mqtt.maxSubscriptions > 0 ? mqtt.maxSubscriptions : "infinity",
    inflight_cnt: s.inflightSize,
    inflight_max: mqtt.maxInflight,
    mqueue_len: s.queueLength,
    mqueue_max: mqtt.maxMqueueLen,
    awaiting_rel_cnt: s.awaitingRel.size,
    awaiting_rel_max: mqtt.maxAwaitingRel,
    ...counters(s, conn),
  };
}

/**
 * EMQX's per-client counters. The connection's (recv_*, send_*) are the live connection's, or
 * the last one's while disconnected (0 for a session restored from the store); the drops are
 * the session's. `send_cnt` counts packets written (the supervisor coalesces them into fewer
 * socket writes, which the shard does not see).
 */
function counters(s: Session, c: ConnectionView | null): Record<string, number> {
  const recvMsg = c ? c.recvQos0 + c.recvQos1 + c.recvQos2 : 0;
  const sendMsg = c ? c.sendQos0 + c.sendQos1 + c.sendQos2 : 0;
  const queueDropped = s.droppedQueueFull + s.droppedQos0Offline;
  return {
    mqueue_dropped: queueDropped,
    recv_cnt: c?.recvCnt ?? 0,
    recv_oct: c?.recvOct ?? 0,
    recv_pkt: c?.recvPkt ?? 0,
    recv_msg: recvMsg,
    "recv_msg.qos0": c?.recvQos0 ?? 0,
    "recv_msg.qos1": c?.recvQos1 ?? 0,
    "recv_msg.qos2": c?.recvQos2 ?? 0,
    "recv_msg.dropped": c?.recvDropped ?? 0,
    send_cnt: c?.sendPkt ?? 0,
    send_oct: c?.sendOct ?? 0,
    send_pkt: c?.sendPkt ?? 0,
    send_msg: sendMsg,
    "send_msg.qos0": c?.sendQos0 ?? 0,
    "send_msg.qos1": c?.sendQos1 ?? 0,
    "send_msg.qos2": c?.sendQos2 ?? 0,
    "send_msg.dropped": queueDropped + s.droppedExpired + s.droppedTooLarge,
    "send_msg.dropped.expired": s.droppedExpired,
    "send_msg.dropped.queue_full": s.droppedQueueFull,
    "send_msg.dropped.too_large": s.droppedTooLarge,
  };
}

/** EMQX's GET /clients filters: exact, repeatable clientid/username; like_*; and the rest. */
function clientFilter(svc: ShardServices, p: Record<string, unknown>): (s: Session) => boolean {
  const list = (
    v: unknown,
  ) => (Array.isArray(v) ? v.map(String) : v === undefined ? null : [String(v)]);
  const ids = list(p.clientid);
  const users = list(p.username);
  const likeId = typeof p.like_clientid === "string" ? p.like_clientid : null;
  const likeUser = typeof p.like_username === "string" ? p.like_username : null;
  const ip = typeof p.ip_address === "string" ? p.ip_address : null;
  const state = typeof p.conn_state === "string" ? p.conn_state : null;
  const protoVer = typeof p.proto_ver === "number" ? p.proto_ver : null;
  const clean = typeof p.clean_start === "boolean" ? p.clean_start : null;
  // EMQX's gte_/lte_created_at and gte_/lte_connected_at, as epoch ms.
  const at = (k: string) => (typeof p[k] === "number" ? p[k] as number : null);
  const [gteCreated, lteCreated] = [at("gte_created_at"), at("lte_created_at")];
  const [gteConnected, lteConnected] = [at("gte_connected_at"), at("lte_connected_at")];
  return (s) => {
    const ch = svc.registry.channelOf(s.clientId);
    const conn: ConnectionView | null = ch ?? s.lastConnection; // EMQX filters on both too
    if (ids && !ids.includes(s.clientId)) return false;
    if (likeId !== null && !s.clientId.includes(likeId)) return false;
    const user = conn?.username ?? "";
    if (users && !users.includes(user)) return false;
    if (likeUser !== null && !user.includes(likeUser)) return false;
    if (ip !== null && !(conn?.peer.startsWith(`${ip}:`) ?? false)) return false;
    if (state === "connected" && !ch) return false;
    if (state === "disconnected" && ch) return false;
    if (protoVer !== null && conn?.protocolVersion !== protoVer) return false;
    if (clean !== null && (conn?.cleanStart ?? false) !== clean) return false;
    if (gteCreated !== null && s.createdAt < gteCreated) return false;
    if (lteCreated !== null && s.createdAt > lteCreated) return false;
    const connectedAt = conn?.connectedAt ?? -1;
    if (gteConnected !== null && (connectedAt < 0 || connectedAt < gteConnected)) return false;
    if (lteConnected !== null && (connectedAt < 0 || connectedAt > lteConnected)) return false;
    return true;
  };
}

function subscriptionJson(clientId: string, filter: string, o: SubOptions, node: string) {
  return {
    clientid: clientId,
    topic: filter,
    qos: o.qos,
    nl: o.noLocal ? 1 : 0,
    rap: o.retainAsPublished ? 1 : 0,
    rh: o.retainHandling,
    node,
  };
}

/** Subscribes a session on an operator's behalf, as a SUBSCRIBE would (route before answer). */
function subscribeFor(svc: ShardServices, s: Session, p: Record<string, unknown>): number {
  const filter = str(p.topic, "topic");
  validateTopicFilter(filter, svc.config.mqtt.maxTopicLevels);
  const qos = Math.min(num(p.qos, 0), svc.config.mqtt.maxQosAllowed);
  if (qos > 2) throw new ControlError("qos must be 0, 1 or 2");
  const opts: SubOptions = {
    qos: qos as 0 | 1 | 2,
    noLocal: p.nl === 1 || p.nl === true,
    retainAsPublished: p.rap === 1 || p.rap === true,
    retainHandling: Math.min(num(p.rh, 0), 2) as 0 | 1 | 2,
    subscriptionId: 0,
  };
  const isNew = !s.subscriptions.has(filter);
  svc.broker.subscribe(s, filter, opts);
  // A persistent session keeps it across a restart, as one its client made (handlers/subscribe.ts).
  if (s.durable) svc.store?.batch.subscribe(s.durable.sid, filter, opts);
  if (!parseShared(filter) && (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew))) {
    svc.broker.requestRetained(s.clientId, filter, opts);
  }
  return opts.qos;
}

/** The client methods; see the file header. */
export const clientMethods: Readonly<Record<string, ControlMethod>> = {
  "clients.list"(svc, params) {
    const keep = clientFilter(svc, (params.filter ?? {}) as Record<string, unknown>);
    return page(svc.registry.sessions(), params, keep, (s) => clientJson(svc, s));
  },
  "clients.get"(svc, params) {
    const s = svc.registry.get(str(params.clientid, "clientid"));
    return s ? clientJson(svc, s) : null;
  },
  /** Disconnects the client (MQTT 5: 0x98) and discards its session; false when unknown. */
  "clients.kick"(svc, params) {
    const id = str(params.clientid, "clientid");
    if (!svc.registry.get(id)) return false;
    svc.kick(id);
    svc.registry.discard(id);
    return true;
  },
  "clients.subscriptions"(svc, params) {
    const s = svc.registry.get(str(params.clientid, "clientid"));
    if (!s) return null;
    const node = svc.config.node.name;
    return [...s.subscriptions].map(([f, o]) => subscriptionJson(s.clientId, f, o, node));
  },
  /** Every subscription of this shard's sessions, with EMQX's GET /subscriptions filters. */
  "subscriptions.list"(svc, params) {
    const f = (params.filter ?? {}) as Record<string, unknown>;
    const node = svc.config.node.name;
    const all = function* () {
      for (const s of svc.registry.sessions()) {
        for (const [filter, o] of s.subscriptions) {
          yield subscriptionJson(s.clientId, filter, o, node);
        }
      }
    };
    return page(all(), params, (x) => {
      if (typeof f.clientid === "string" && x.clientid !== f.clientid) return false;
      if (typeof f.topic === "string" && x.topic !== f.topic) return false;
      if (typeof f.qos === "number" && x.qos !== f.qos) return false;
      if (typeof f.share_group === "string" && parseShared(x.topic)?.group !== f.share_group) {
        return false;
      }
      return true;
    }, (x) => x);
  },
  /**
   * Subscribes for a client: the granted QoS, or null when the client is unknown. Answered as a
   * SUBACK is: after the route records are visible and, for a persistent session in durable
   * mode, after the subscription's commit (a crash after the answer keeps it).
   */
  "clients.subscribe"(svc, params) {
    const s = svc.registry.get(str(params.clientid, "clientid"));
    if (!s) return null;
    const subs = Array.isArray(params.subscriptions) ? params.subscriptions : [params];
    const mark = svc.store?.mark() ?? 0;
    const granted = subs.map((p) => subscribeFor(svc, s, p as Record<string, unknown>));
    return afterCommit(svc, mark, granted, svc.broker.routesCommitted());
  },
  /** Unsubscribes for a client: per filter whether it existed, or null when unknown. */
  "clients.unsubscribe"(svc, params) {
    const s = svc.registry.get(str(params.clientid, "clientid"));
    if (!s) return null;
    const topics = Array.isArray(params.topics)
      ? params.topics.map(String)
      : [str(params.topic, "topic")];
    const mark = svc.store?.mark() ?? 0;
    const codes = topics.map((t) => {
      if (!svc.broker.unsubscribe(s, t)) return ReasonCode.NoSubscriptionExisted;
      if (s.durable) svc.store?.batch.unsubscribe(s.durable.sid, t);
      return ReasonCode.Success;
    });
    return afterCommit(svc, mark, codes, null);
  },
};

/**
 * `answer` once what the request wrote to the store since `mark` is committed (and `routed`,
 * when given, has resolved); at once when it wrote nothing. A refused commit is an error reply.
 */
function afterCommit<T>(
  svc: ShardServices,
  mark: number,
  answer: T,
  routed: Promise<void> | null,
): T | Promise<T> {
  const store = svc.store;
  const stored = store?.wroteSince(mark) ? store.committed() : null;
  if (!stored && !routed) return answer;
  return Promise.all([stored, routed]).then(([outcome]) => {
    if (outcome) throw new ControlError(`The store refused the change: ${outcome.message}`);
    return answer;
  });
}
