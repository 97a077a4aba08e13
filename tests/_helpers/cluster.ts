/**
 * Test helper for clusters (issue 15): starts real Culex nodes (`main.ts start` processes) on
 * 127.0.0.1 with a cluster port each, waits for their links from their logs, and waits for a
 * route to reach a publisher's node by publishing probes (bounded). Owns nothing but the
 * processes it starts through startBroker().
 */

import type { MqttClient } from "mqtt";
import { type BrokerHandle, startBroker } from "./broker.ts";
import { startExpectingExit } from "./culex_cli.ts";
import { connect, publish, type Received, subscribe, takeMatching } from "./clients.ts";

/** A started node: its broker handle, node name and cluster port. */
export interface ClusterNode {
  readonly name: string;
  readonly clusterPort: number;
  readonly broker: BrokerHandle;
  readonly url: string;
}

/** Options of startNode(). */
export interface NodeOptions {
  /** "a" → node name a@127.0.0.1 (a@<host>). */
  readonly short: string;
  /** Loopback address of the node's name and cluster listener; default 127.0.0.1. */
  readonly host?: string;
  readonly clusterPort: number;
  /** Seeds (static discovery), e.g. ["b@127.0.0.1:4371"]. */
  readonly seeds?: readonly string[];
  readonly cookie?: string;
  readonly strategy?: string;
  readonly sets?: readonly string[];
  readonly shards?: number;
  /** node.data_dir (for `culex ctl`, or to restart the node on the same store); default a temp
   * directory removed at stop. */
  readonly dataDir?: string;
  /** Listeners besides tcp:default to wait for ("http:dashboard"). */
  readonly listeners?: string[];
}

/** Free TCP ports on 127.0.0.1 (bound then released). */
export function freePorts(n: number): number[] {
  // Below Linux's ephemeral range (32768-60999): a port handed out by `port: 0` is free only
  // until some other test's outgoing connection takes it as its local port, which made a node
  // fail to start with EADDRINUSE on a loaded full run. Here, only another random pick collides.
  const ports: number[] = [];
  for (let tries = 0; ports.length < n && tries < 1000; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      ports.push(port);
    } catch { /* in use: pick another */ }
  }
  if (ports.length < n) throw new Error(`no ${n} free ports below the ephemeral range`);
  return ports;
}

/** The node's name and its `--set` list (name, cookie, discovery, listen, heartbeats, seeds). */
function nodeSets(o: NodeOptions): { name: string; sets: string[] } {
  const host = o.host ?? "127.0.0.1";
  const name = `${o.short}@${host}`;
  const sets = [
    `node.name=${name}`,
    `node.cookie=${o.cookie ?? "test-cookie-29"}`,
    `cluster.discovery_strategy=${o.strategy ?? "static"}`,
    `cluster.listen=${host}:${o.clusterPort}`,
    "cluster.heartbeat_interval=200ms",
    "cluster.heartbeat_timeout=1500ms",
    ...(o.seeds && o.seeds.length > 0 ? [`cluster.static.seeds=${o.seeds.join(",")}`] : []),
    ...(o.sets ?? []),
  ];
  return { name, sets };
}

/** Starts one node; resolves once its MQTT listener is up. */
export async function startNode(o: NodeOptions): Promise<ClusterNode> {
  const { name, sets } = nodeSets(o);
  const broker = await startBroker({
    shards: o.shards ?? 2,
    sets,
    ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
    ...(o.listeners ? { listeners: o.listeners } : {}),
  });
  return { name, clusterPort: o.clusterPort, broker, url: broker.url };
}

/**
 * Starts one node with startNode() and pushes it on `nodes`, which the suite stops in its
 * `finally` (so a node is stopped even when a later start or step fails).
 */
export async function addNode(nodes: ClusterNode[], o: NodeOptions): Promise<ClusterNode> {
  const node = await startNode(o);
  nodes.push(node);
  return node;
}

/** `node`'s seed for another node's `seeds`: "a@127.0.0.1:<cluster port>". */
export function seedOf(node: ClusterNode): string {
  return `${node.name}:${node.clusterPort}`;
}

/**
 * Runs `culex start` for a node of options `o` that is expected to exit (a bad config) through
 * startExpectingExit(): its exit code and everything it printed, at most 30 s. The MQTT and API
 * listeners bind port 0 unless `o.sets` names them; `o.dataDir` defaults to a temp directory
 * removed afterwards.
 */
export async function startNodeExpectingExit(
  o: NodeOptions,
): Promise<{ code: number; out: string }> {
  const ownDir = o.dataDir === undefined
    ? await Deno.makeTempDir({ prefix: "culex_test_data_" })
    : null;
  const sets = [`node.data_dir=${o.dataDir ?? ownDir}`, ...nodeSets(o).sets];
  try {
    return await startExpectingExit([
      "--shards",
      String(o.shards ?? 2),
      ...sets.flatMap((s) => ["--set", s]),
    ]);
  } finally {
    if (ownDir) await Deno.remove(ownDir, { recursive: true }).catch(() => {});
  }
}

/** Waits (bounded) until `node` logged that each of `peers` is up; counts `times` ups each. */
export async function waitUp(
  node: ClusterNode,
  peers: readonly string[],
  timeoutMs = 15_000,
  times = 1,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs = node.broker.logs();
    const missing = peers.filter((p) => countOf(logs, `node ${p} is up`) < times);
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${node.name}: no link to ${missing.join(", ")}:\n${logs.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits (bounded) until `node`'s log contains `text` at least `times` times. */
export async function waitLog(
  node: ClusterNode,
  text: string,
  timeoutMs = 15_000,
  times = 1,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (countOf(node.broker.logs(), text) < times) {
    if (Date.now() > deadline) {
      throw new Error(`${node.name}: no "${text}" in the log:\n${node.broker.logs().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many times `needle` occurs in `text` (overlapping counted). */
export function countOf(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) n++;
  return n;
}

/**
 * Publishes QoS 0 probes to `topic` from `pub` until `sub` receives one (at most ~100 tries): the
 * subscription's route reached the publisher's node. Probes have payload "probe"; later
 * messages of the same publisher arrive after them (per-publisher order).
 */
export async function awaitRoute(pub: MqttClient, sub: MqttClient, topic: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await publish(pub, topic, "probe", { qos: 0 });
    try {
      await takeMatching(sub, (m) => m.topic === topic && m.payload === "probe", 150);
      return;
    } catch { /* not there yet */ }
  }
  throw new Error(`The route for ${topic} never reached the publisher's node`);
}

/** Takes `n` messages that are not probes, in arrival order (at most timeoutMs). */
export async function takeReal(
  client: MqttClient,
  n: number,
  timeoutMs: number,
): Promise<Received[]> {
  const out: Received[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = Math.max(1, deadline - Date.now());
    out.push(await takeMatching(client, (m) => m.payload !== "probe", left));
  }
  return out;
}

/**
 * Waits until `from` and `to` are linked both ways, then connects a publisher to `from` and a
 * subscriber to `to` (pushed on `clients` for the caller to close), subscribes the latter to
 * `topic`, waits for the route, publishes `payload` at QoS 1 and returns the payloads of the
 * first real message the subscriber gets.
 */
export async function crossNodeDelivery(
  from: ClusterNode,
  to: ClusterNode,
  topic: string,
  payload: string,
  ids: { readonly pub: string; readonly sub: string },
  clients: MqttClient[],
): Promise<string[]> {
  await waitUp(from, [to.name]);
  await waitUp(to, [from.name]);
  const pub = await connect(from.url, { protocolVersion: 5, clientId: ids.pub });
  clients.push(pub);
  const sub = await connect(to.url, { protocolVersion: 5, clientId: ids.sub });
  clients.push(sub);
  await subscribe(sub, topic, { qos: 1 });
  await awaitRoute(pub, sub, topic);
  await publish(pub, topic, payload, { qos: 1 });
  return (await takeReal(sub, 1, 5_000)).map((m) => m.payload);
}
