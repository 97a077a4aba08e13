/**
 * The parts of one shard and how they are wired: clock, hooks, metrics, the work queue, Broker
 * (with Retainer and SharedSubs), SessionRegistry, DelayedPublish, the $SYS client events, the
 * broker's own `message.publish` rules, and the test-only hooks when CULEX_TEST_HOOKS=1. The
 * Shard (the ring shell) builds this once and hands it to every Channel as its services. Owns
 * the construction order only; each part owns its state.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { EnhancedAuthRegistry } from "../auth/mod.ts";
import type { Config } from "../config/types.ts";
import { FieldWriter, partitionsOfShard, SharedCounts } from "../ipc/mod.ts";
import type { StoreClient } from "../store/mod.ts";
import type { Message } from "../mqtt/mod.ts";
import { Broker } from "./broker.ts";
import type { Channel, ChannelServices } from "./channel.ts";
import type { Clock } from "./clock.ts";
import { DelayedPublish } from "./delayed.ts";
import { dispatchPacket } from "./handlers/dispatch.ts";
import { Hooks } from "./hooks.ts";
import { Metrics } from "./metrics.ts";
import { addPublishRules } from "./publish_rules.ts";
import { Retainer } from "./retainer.ts";
import { DiscRetained } from "./retained_disc.ts";
import { SessionRegistry } from "./session_registry.ts";
import { SharedSubs } from "./shared_subs.ts";
import { addSysEvents } from "./sys.ts";
import { ShardSecurity } from "./security.ts";
import type { BanEntry } from "../auth/mod.ts";
import { addTestHooks } from "./test_hooks.ts";
import { WorkQueue } from "./work_queue.ts";
import { setupShardLogging } from "../log.ts";
import { NodeRouting } from "./node_routing.ts";
import { ShardStore } from "./durable.ts";

/** Everything a shard's Channels, control requests and loop use. */
export interface ShardServices extends ChannelServices {
  readonly index: number;
  readonly count: number;
  readonly delayed: DelayedPublish | null;
  readonly store: ShardStore | null;
  readonly security: ShardSecurity;
  /** One reusable record field writer for the shard's own records (replies). */
  readonly fields: FieldWriter;
  /** Ends a client's connection as an administrative action; false when it has none. */
  kick(clientId: string): boolean;
  /**
   * A run-time config change (control method `config.update`): `config` is replaced, so what
   * reads it per use (mqtt.* caps, rate limits, authorization.no_match and deny_action) takes
   * the new values for what happens next; sessions opened from now on take the new limits; the
   * authenticators and authorization sources are rebuilt (ACL files re-read); the log levels
   * change. Open connections stay open.
   */
  reconfigure(config: Config): void;
}

/** What the Shard gives: its identity, config, clock and the ring operations the parts need. */
export interface ShardWiring {
  readonly index: number;
  readonly count: number;
  readonly config: Config;
  readonly counts: SharedArrayBuffer;
  readonly clock: Clock;
  /** Rings the shard's own doorbell: asynchronous work settled, run a pass. */
  wake(): void;
  sendToShard(shard: number, kind: number, payload: Uint8Array | readonly Uint8Array[]): void;
  flushPeers(): void;
  whenPeersCommitted(): Promise<void> | null;
  kick(clientId: string): boolean;
  /** Tells the supervisor about a ban decided in this shard (flapping). */
  reportBan(entry: BanEntry): void;
  /** This shard's port to the store worker (docs/store.md), or null without one. */
  readonly store?: StoreClient | null;
  /** Writes a record to the supervisor's ring (the cluster records). */
  toSupervisor(kind: number, parts: readonly Uint8Array[]): void;
}

/** Builds a shard's parts. */
export function composeServices(w: ShardWiring): ShardServices {
  const { clock } = w;
  let config = w.config;
  const log = getLogger(["culex", "shard"]);
  const metrics = new Metrics();
  const hooks = new Hooks((point, name, err) => {
    log.error("Hook {point} callback {name} failed: {err}", {
      point,
      name,
      err: String(err instanceof Error ? err.stack : err),
    });
  });
  const counts = new SharedCounts(w.counts, w.count, w.index);
  let registry: SessionRegistry<Channel> | null = null;
  let retainWarnedAt = -Infinity;
  const onRetainRefused = (why: "refused" | "too_large") => {
    // Logged at most once a minute: a full store refuses every new topic until there is room.
    const now = clock.now();
    if (now - retainWarnedAt < 60_000) return;
    retainWarnedAt = now;
    log.warn(
      "Retained message not stored: {why} (retainer.backend.max_retained_messages, " +
        "retainer.max_payload_size)",
      { why: why === "refused" ? "the store is full" : "the payload is over the limit" },
    );
  };
  const work = new WorkQueue(w.wake);
  // One store end per shard for everything it stores: durable sessions, retained messages on
  // disc, delayed messages. Memory mode with a ram retainer has none, so none of its code runs
  // there (delayed messages are kept in the store only alongside one of the two).
  const durable = config.durableSessions.enable;
  const store = w.store && (durable || config.retainer.storageType === "disc")
    ? new ShardStore(w.store, work, log, w.index, durable, () => metrics.add("messages.dropped"))
    : null;
  const disc = store && config.retainer.storageType === "disc"
    ? new DiscRetained(store, config.retainer.maxPayloadSize, onRetainRefused, (filter, err) => {
      log.error("Reading retained messages for {filter} failed: {err}", {
        filter,
        err: err.message,
      });
    })
    : null;
  const nodes = new NodeRouting(config.cluster.discoveryStrategy !== "singleton", w.toSupervisor);
  const broker = new Broker({
    index: w.index,
    count: w.count,
    clock,
    hooks,
    metrics,
    onRetainRefused,
    sendToShard: w.sendToShard,
    flushPeers: w.flushPeers,
    whenPeersCommitted: w.whenPeersCommitted,
    session: (clientId) => registry?.get(clientId),
    store,
  }, {
    retainer: new Retainer(config.retainer, counts),
    disc,
    shared: new SharedSubs(config.broker.sharedSubscriptionStrategy),
    retainEnabled: config.retainer.enable && config.mqtt.retainAvailable,
    upgradeQos: config.mqtt.upgradeQos,
    nodes,
  });
  registry = new SessionRegistry<Channel>(config, broker, clock, metrics, durable ? store : null);
  // The node's client registry entries (docs/cluster.md): every session held here, restored ones
  // included.
  if (nodes.enabled) registry.onHeld = (clientId, held) => nodes.session(held, clientId);
  const publishDelayed = (m: Message) => void broker.publish(m, "delayed");
  // Delayed messages are kept in the store with a disc retainer or durable sessions.
  const keepDelayed = store !== null &&
    (config.retainer.storageType === "disc" || config.durableSessions.enable);
  const delayed = config.delayed.enable
    ? new DelayedPublish(
      config.delayed,
      counts,
      clock,
      publishDelayed,
      keepDelayed ? { store, partitions: partitionsOfShard(w.index, w.count) } : null,
    )
    : null;
  addPublishRules(hooks, { delayed, maxTopicLevels: config.mqtt.maxTopicLevels, metrics, log });
  addSysEvents(hooks, config, clock, (m) => void broker.publish(m, "sys"));
  hooks.add("client.connected", () => metrics.add("client.connected"), { name: "metrics" });
  if (nodes.enabled) {
    // After authentication: an unauthenticated CONNECT must not end a session on another node.
    hooks.add("client.connected", (c) => nodes.clientOpened(c.clientId), { name: "cluster" });
  }
  hooks.add("client.disconnected", () => metrics.add("client.disconnected"), { name: "metrics" });
  const authMethods = new EnhancedAuthRegistry();
  const security = new ShardSecurity({
    config,
    clock,
    log,
    hooks,
    authMethods,
    shards: w.count,
    liveChannels: () => registry!.channels(),
    reportBan: w.reportBan,
  });
  const svc: ShardServices = {
    index: w.index,
    count: w.count,
    get config() {
      return config;
    },
    clock,
    log,
    metrics,
    hooks,
    broker,
    registry,
    authMethods,
    delayed,
    store,
    security,
    admit: (client) => security.admit(client),
    work,
    dispatch: dispatchPacket,
    fields: new FieldWriter(),
    kick: w.kick,
    reconfigure(next: Config) {
      const previous = config;
      config = next;
      registry!.config = next;
      security.reconfigure(previous, next);
      void setupShardLogging(next.log).catch((err) => {
        log.error("Log settings not applied: {err}", { err: String(err) });
      });
    },
  };
  if (Deno.env.get("CULEX_TEST_HOOKS") === "1") addTestHooks(svc);
  return svc;
}
