/**
 * The cost of `cluster.route_sync = sync` per SUBSCRIBE (`bench/cluster_cost.ts --only
 * route_sync`): two clusters run side by side, one with `sync`, one with `async` (set through the
 * environment, `CULEX__CLUSTER__ROUTE_SYNC`, so the node helper stays as it is); a client on the
 * first node of each subscribes to new filters one at a time (each adds a node route, so with
 * `sync` its SUBACK waits for every linked peer's shards) and the SUBSCRIBE → SUBACK times are
 * taken in alternating chunks, first with 2 nodes per cluster, then with a third node joined.
 * Prints p50 / p99 per mode and the sync / async ratios (the machine may be busy: the ratios
 * within one run are what count). Owns the nodes it starts; all are stopped at the end.
 */

import type mqtt from "mqtt";
import { client, freePort, type Node, startNode, stopNode, until } from "./_cluster_nodes.ts";

type Mode = "sync" | "async";

interface Cluster {
  readonly mode: Mode;
  readonly nodes: Node[];
  readonly ports: number[];
  sub: mqtt.MqttClient | null;
  next: number;
}

/** Starts one node of `c` with the cluster's mode; seeds are every port of the cluster. */
async function addNode(c: Cluster, short: string): Promise<Node> {
  const port = freePort();
  c.ports.push(port);
  Deno.env.set("CULEX__CLUSTER__ROUTE_SYNC", c.mode);
  const prefix = c.mode === "sync" ? "s" : "a";
  const seeds = c.ports.map((p, i) => `${prefix}${"xyz"[i]}@127.0.0.1:${p}`);
  const n = await startNode(`${prefix}${short}`, port, seeds);
  c.nodes.push(n);
  return n;
}

/** Waits until every node of `c` logged each other node up. */
async function linked(c: Cluster): Promise<void> {
  for (const n of c.nodes) {
    for (const other of c.nodes) {
      if (other === n) continue;
      await until(() => n.logs.some((l) => l.includes(`node ${other.name} is up`)), 60_000);
    }
  }
  // The full sets on link up pass before the measurement.
  await new Promise((r) => setTimeout(r, 1_000));
}

/** `count` SUBSCRIBEs of new filters on the cluster's first node; each SUBACK's time in ms. */
async function subscribeTimes(c: Cluster, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const filter = `rs/${c.mode}/${c.next++}`;
    const t0 = performance.now();
    await c.sub!.subscribeAsync(filter, { qos: 1 });
    out.push(performance.now() - t0);
  }
  return out;
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

/** Measures both clusters in alternating chunks; one line per mode and the ratio. */
async function measure(clusters: Cluster[], label: string, chunks: number, per: number) {
  const times = new Map<Mode, number[]>(clusters.map((c) => [c.mode, []]));
  for (let k = 0; k < chunks; k++) {
    // Alternate which mode goes first, so a load change does not favour one.
    const order = k % 2 === 0 ? clusters : [...clusters].reverse();
    for (const c of order) times.get(c.mode)!.push(...await subscribeTimes(c, per));
  }
  const fig = (m: Mode) => {
    const t = times.get(m)!;
    return { p50: pct(t, 0.5), p99: pct(t, 0.99), n: t.length };
  };
  const s = fig("sync");
  const a = fig("async");
  const ms = (x: number) => x.toFixed(2);
  console.log(`${label}: SUBSCRIBE → SUBACK (a new node route each), ${s.n} per mode`);
  console.log(`  sync : p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms`);
  console.log(`  async: p50 ${ms(a.p50)} ms, p99 ${ms(a.p99)} ms`);
  console.log(
    `  sync / async: p50 ${(s.p50 / a.p50).toFixed(2)}×, p99 ${(s.p99 / a.p99).toFixed(2)}×`,
  );
}

/** The section: 2 nodes, then 3 nodes, `chunks` alternating chunks of `per` SUBSCRIBEs. */
export async function routeSyncCost(chunks: number, per: number): Promise<void> {
  const clusters: Cluster[] = (["sync", "async"] as const).map((mode) => ({
    mode,
    nodes: [],
    ports: [],
    sub: null,
    next: 0,
  }));
  try {
    for (const c of clusters) {
      // Ports first, so the first node's seeds name the second.
      await addNode(c, "x");
      await addNode(c, "y");
    }
    for (const c of clusters) await linked(c);
    for (const c of clusters) c.sub = await client(c.nodes[0]!.mqttPort, `rs-${c.mode}`);
    await measure(clusters, "2 nodes", chunks, per);
    for (const c of clusters) await addNode(c, "z");
    for (const c of clusters) await linked(c);
    await measure(clusters, "3 nodes", chunks, per);
  } finally {
    Deno.env.delete("CULEX__CLUSTER__ROUTE_SYNC");
    for (const c of clusters) await c.sub?.endAsync().catch(() => {});
    for (const c of clusters) for (const n of c.nodes) await stopNode(n);
  }
}
