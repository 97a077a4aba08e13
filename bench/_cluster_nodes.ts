/**
 * Two-node helpers of the cluster benches (bench/cluster_bench.ts, bench/cluster_cost.ts): their
 * `--name value` arguments, start a real node (`main.ts start`, 2 shards, static seeds) with its
 * log lines kept, connect an npm:mqtt client, wait for a condition or a route (bounded), the
 * median of the rounds. Owns the processes it starts; callers stop them.
 */

import mqtt from "mqtt";
import type { Buffer } from "node:buffer";

/** The repository root. */
const repo = new URL("../", import.meta.url).pathname;

/** The bench's `--name value` pairs: `number(name, fallback)` and the raw map. */
export function benchArgs(argv: readonly string[] = Deno.args): {
  args: Map<string, string>;
  number(name: string, fallback: number): number;
} {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) args.set(argv[i]!, argv[i + 1] ?? "");
  return { args, number: (name, fallback) => Number(args.get(name) ?? fallback) };
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
}

/** A started node: its process and log lines. */
export interface Node {
  name: string;
  mqttPort: number;
  child: Deno.ChildProcess;
  logs: string[];
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

export async function startNode(
  short: string,
  clusterPort: number,
  seeds: string[],
): Promise<Node> {
  const name = `${short}@127.0.0.1`;
  const mqttPort = freePort();
  // CULEX_BENCH_DENO_FLAGS: extra `deno run` flags for the nodes (a profile: `--v8-flags=--prof`).
  const extra = (Deno.env.get("CULEX_BENCH_DENO_FLAGS") ?? "").split(" ").filter((f) => f !== "");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...extra,
      `${repo}main.ts`,
      "start",
      "--shards",
      "2",
      "--node-name",
      name,
      "--set",
      `listeners.tcp.default.bind=127.0.0.1:${mqttPort}`,
      "--set",
      "cluster.discovery_strategy=static",
      "--set",
      `cluster.listen=127.0.0.1:${clusterPort}`,
      "--set",
      `cluster.static.seeds=${seeds.join(",")}`,
      "--set",
      "node.cookie=bench",
      "--set",
      `node.data_dir=${Deno.makeTempDirSync({ prefix: "culex_cluster_bench_" })}`,
      "--set",
      "dashboard.listeners.http.bind=127.0.0.1:0",
      "--set",
      "mqtt.max_mqueue_len=1000000",
      "--set",
      "mqtt.max_inflight=1000",
      "--set",
      "mqtt.max_subscriptions=infinity",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const logs: string[] = [];
  const node = { name, mqttPort, child, logs };
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) logs.push(...dec.decode(chunk).split("\n"));
    })();
  }
  await until(() => logs.some((l) => l.includes("Listener tcp:default listening")), 60_000);
  return node;
}

export async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `persist`: clean_start = false with a 1 h session expiry (the session outlives the close). */
export async function client(port: number, id: string, persist = false): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: id,
    protocolVersion: 5,
    reconnectPeriod: 0,
    clean: !persist,
    properties: persist
      ? { receiveMaximum: 65535, sessionExpiryInterval: 3600 }
      : { receiveMaximum: 65535 },
  });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
  });
  return c;
}

/**
 * Each publisher sends `per` QoS 1 messages of `payload` to `topic`, 100 in flight at a time
 * (the fan-in of both cluster benches).
 */
export async function publishEach(
  pubs: readonly mqtt.MqttClient[],
  topic: string,
  payload: Uint8Array,
  per: number,
): Promise<void> {
  await Promise.all(pubs.map(async (p) => {
    for (let sent = 0; sent < per;) {
      const batch: Promise<unknown>[] = [];
      for (let k = 0; k < 100 && sent < per; k++, sent++) {
        batch.push(p.publishAsync(topic, payload as unknown as Buffer, { qos: 1 }));
      }
      await Promise.all(batch);
    }
  }));
}

/** Stops a node (SIGTERM) and waits for its exit. */
export async function stopNode(n: Node): Promise<void> {
  n.child.kill("SIGTERM");
  await n.child.status;
}

/** Publishes probes (QoS 0, every 5 ms, at most 1000) until one reaches `sub`: the route is up. */
export async function waitRoute(pub: mqtt.MqttClient, sub: mqtt.MqttClient, topic: string) {
  let probed = false;
  const onProbe = (t: string) => {
    if (t === topic) probed = true;
  };
  sub.on("message", onProbe);
  for (let i = 0; i < 1000 && !probed; i++) {
    await pub.publishAsync(topic, "probe", { qos: 0 });
    await new Promise((r) => setTimeout(r, 5));
  }
  sub.off("message", onProbe);
  if (!probed) throw new Error(`no route for ${topic}`);
}
