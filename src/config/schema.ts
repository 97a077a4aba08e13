/**
 * The configuration schema: the one source of truth for keys (EMQX 5 names, snake_case as in
 * the YAML), types, defaults and bounds, and the mapping onto the camelCase Config of types.ts.
 * Owned by src/config/. Pure: it validates plain data and never reads files, the environment
 * or flags (load.ts does). config/culex.yaml documents the same defaults; a test keeps the two
 * equal.
 */

import { z } from "zod";
import type {
  BrokerConfig,
  Config,
  DelayedConfig,
  ForceGcConfig,
  MqttConfig,
  SysTopicsConfig,
} from "./types.ts";
import { listenersSchema, peerCertAs } from "./_schema_listeners.ts";
import {
  bool,
  duration,
  formatSize,
  int,
  MAX_TIMER_MS,
  num,
  oneOf,
  size,
  text,
} from "./_fields.ts";
import { authenticationSchema, authorizationSchema } from "./_schema_auth.ts";
import { bannedSchema, flappingSchema, zonesSchema } from "./_schema_security.ts";
import { logSchema } from "./_schema_log.ts";
import { dataDir, durableSessionsSchema, retainerSchema } from "./_schema_store.ts";
import { clusterSchema, cookie } from "./_schema_cluster.ts";
import { apiKeySchema, dashboardSchema } from "./_schema_dashboard.ts";

const UNLIMITED = Number.MAX_SAFE_INTEGER;
const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;
/** MQTT's largest packet: a 268,435,455-byte remaining length plus a 5-byte fixed header. */
const MQTT_MAX_PACKET = 268_435_460;
/** MQTT 5 Session Expiry Interval is a u32 number of seconds. */
const MAX_SESSION_EXPIRY_MS = 0xffff_ffff * 1000;

const mqttShape = {
  max_packet_size: size(1, MQTT_MAX_PACKET).default(MB),
  max_clientid_len: int(23, 65535).default(65535),
  max_topic_levels: int(1, 65535).default(128),
  max_qos_allowed: oneOf([0, 1, 2] as const).default(2),
  max_topic_alias: int(0, 65535).default(65535),
  retain_available: bool().default(true),
  wildcard_subscription: bool().default(true),
  shared_subscription: bool().default(true),
  idle_timeout: duration(1, MAX_TIMER_MS).default(15_000),
  keepalive_multiplier: num(1, 100).default(1.5),
  session_expiry_interval: duration(0, MAX_SESSION_EXPIRY_MS).default(2 * 3_600_000),
  max_inflight: int(1, 65535).default(32),
  max_mqueue_len: int(1, 10_000_000).default(1000),
  mqueue_store_qos0: bool().default(true),
  mqueue_drop_policy: oneOf(["drop_oldest", "drop_newest"] as const).default("drop_oldest"),
  max_awaiting_rel: int(1, 65535).default(100),
  await_rel_timeout: duration(1, MAX_TIMER_MS).default(300_000),
  retry_interval: duration(1, MAX_TIMER_MS).default(30_000),
  upgrade_qos: bool().default(false),
  max_subscriptions: int(0, UNLIMITED, { infinity: true }).default(0),
  server_keepalive: int(0, 65535).default(0),
  max_keepalive: int(0, 65535, { infinity: true }).default(0),
  response_information: z.string().max(65535).default(""),
  max_held_bytes: size(64 * KB, GB).default(MB),
  peer_cert_as_username: peerCertAs(),
  peer_cert_as_clientid: peerCertAs(),
};

const mqtt = z.strictObject(mqttShape).transform((m): MqttConfig => ({
  maxPacketSize: m.max_packet_size,
  maxClientidLen: m.max_clientid_len,
  maxTopicLevels: m.max_topic_levels,
  maxQosAllowed: m.max_qos_allowed,
  maxTopicAlias: m.max_topic_alias,
  retainAvailable: m.retain_available,
  wildcardSubscription: m.wildcard_subscription,
  sharedSubscription: m.shared_subscription,
  idleTimeout: m.idle_timeout,
  keepaliveMultiplier: m.keepalive_multiplier,
  sessionExpiryInterval: m.session_expiry_interval,
  maxInflight: m.max_inflight,
  maxMqueueLen: m.max_mqueue_len,
  mqueueStoreQos0: m.mqueue_store_qos0,
  mqueueDropPolicy: m.mqueue_drop_policy,
  maxAwaitingRel: m.max_awaiting_rel,
  awaitRelTimeout: m.await_rel_timeout,
  retryInterval: m.retry_interval,
  upgradeQos: m.upgrade_qos,
  maxSubscriptions: m.max_subscriptions,
  serverKeepalive: m.server_keepalive,
  maxKeepalive: m.max_keepalive,
  responseInformation: m.response_information,
  maxHeldBytes: m.max_held_bytes,
  peerCertAsUsername: m.peer_cert_as_username,
  peerCertAsClientid: m.peer_cert_as_clientid,
}));

const broker = z.strictObject({
  shared_subscription_strategy: oneOf(
    ["random", "round_robin", "sticky", "hash_clientid", "hash_topic"] as const,
  ).default("round_robin"),
}).transform((b): BrokerConfig => ({ sharedSubscriptionStrategy: b.shared_subscription_strategy }));

const sysTopics = z.strictObject({
  sys_msg_interval: duration(0, MAX_TIMER_MS).default(60_000),
  sys_event_messages: z.strictObject({
    client_connected: bool().default(true),
    client_disconnected: bool().default(true),
  }).prefault({}),
}).transform((t): SysTopicsConfig => ({
  sysMsgInterval: t.sys_msg_interval,
  clientConnected: t.sys_event_messages.client_connected,
  clientDisconnected: t.sys_event_messages.client_disconnected,
}));

const delayed = z.strictObject({
  enable: bool().default(true),
  max_delayed_messages: int(0, UNLIMITED, { infinity: true }).default(100_000),
  max_delay_interval: duration(1000, 4_294_967_000).default(4_294_967_000),
}).transform((d): DelayedConfig => ({
  enable: d.enable,
  maxDelayedMessages: d.max_delayed_messages,
  maxDelayInterval: d.max_delay_interval,
}));

const forceGcShape = {
  enable: bool().default(true),
  interval: duration(1000, MAX_TIMER_MS).default(10_000),
  heap_growth: size(MB, GB).default(8 * MB),
  quiet_rate: int(0, UNLIMITED).default(1000),
  trim_native: bool().default(true),
};

const forceGc = z.strictObject(forceGcShape).transform((g): ForceGcConfig => ({
  enable: g.enable,
  interval: g.interval,
  heapGrowth: g.heap_growth,
  quietRate: g.quiet_rate,
  trimNative: g.trim_native,
}));

/**
 * Schema of the whole configuration document (snake_case input, Config output). Every object
 * is strict, so an unknown key is an `unrecognized_keys` issue rather than silently ignored.
 * The output's node.shards may still be 0 (= number of cores); loadConfig() resolves it.
 */
export const configSchema = z.strictObject({
  node: z.strictObject({
    name: text(/^[^@\s]+@[^@\s]+$/, `a node name "name@host"`).default("culex@127.0.0.1"),
    shards: int(0, 1024).default(0),
    data_dir: dataDir(),
    cookie: cookie(),
  }).transform((n) => ({
    name: n.name,
    shards: n.shards,
    dataDir: n.data_dir,
    cookie: n.cookie,
  })).prefault({}),
  cluster: clusterSchema.prefault({}),
  log: logSchema.prefault({}),
  listeners: listenersSchema.prefault({}),
  mqtt: mqtt.prefault({}),
  retainer: retainerSchema.prefault({}),
  durable_sessions: durableSessionsSchema.prefault({}),
  broker: broker.prefault({}),
  sys_topics: sysTopics.prefault({}),
  delayed: delayed.prefault({}),
  force_gc: forceGc.prefault({}),
  authentication: authenticationSchema,
  authorization: authorizationSchema.prefault({}),
  banned: bannedSchema.prefault({}),
  flapping_detect: flappingSchema.prefault({}),
  zones: zonesSchema(mqttShape, forceGcShape),
  dashboard: dashboardSchema.prefault({}),
  api_key: apiKeySchema.prefault({}),
  ipc: z.strictObject({
    // Lower bound: createRing() in src/ipc/ needs at least 4096 bytes.
    ring_size: size(4 * KB, GB).default(4 * MB),
  }).prefault({}),
}).superRefine((c, ctx) => {
  // Runs only when every key parsed. Any ring size carries packets of any size (a record larger
  // than a quarter ring crosses it in pieces, src/ipc/_fragments.ts); the ring only has to be a
  // power of two.
  const ring = c.ipc.ring_size;
  if ((ring & (ring - 1)) !== 0) {
    const message = `a power of two, e.g. "${formatSize(nextPowerOfTwo(ring))}"`;
    ctx.addIssue({ code: "custom", message, input: ring, path: ["ipc", "ring_size"] });
  }
}).transform((c): Config => ({
  node: c.node,
  cluster: c.cluster,
  log: c.log,
  listeners: c.listeners,
  mqtt: c.mqtt,
  retainer: c.retainer,
  durableSessions: c.durable_sessions,
  broker: c.broker,
  sysTopics: c.sys_topics,
  delayed: c.delayed,
  forceGc: c.force_gc,
  authentication: c.authentication,
  authorization: c.authorization,
  banned: c.banned,
  flappingDetect: c.flapping_detect,
  zones: c.zones,
  dashboard: c.dashboard,
  apiKey: c.api_key,
  ipc: { ringSize: c.ipc.ring_size },
  warnings: [],
}));

/** What the YAML document may contain, after parsing (before defaults and mapping). */
export type ConfigInput = z.input<typeof configSchema>;

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Strips the wrappers (transform, default, prefault) around an object or record schema. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
      s = s.unwrap() as z.ZodType;
    } else return s;
  }
}

/**
 * The keys the schema allows in the mapping at `path` (snake_case YAML path), or null when the
 * path does not lead to a fixed-key mapping. Used to suggest the intended key for a typo.
 *
 * @example
 * ```ts
 * import { knownKeys } from "./schema.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(knownKeys(["ipc"]), ["ring_size"]);
 * ```
 */
export function knownKeys(path: readonly PropertyKey[]): string[] | null {
  let s = unwrap(configSchema);
  for (const seg of path) {
    if (s instanceof z.ZodObject) {
      const next = (s.shape as Record<string, z.ZodType>)[String(seg)];
      if (!next) return null;
      s = unwrap(next);
    } else if (s instanceof z.ZodRecord) {
      s = unwrap(s.valueType as z.ZodType);
    } else return null;
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : null;
}
