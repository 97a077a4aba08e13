/**
 * Measured per-message and per-route costs of the cluster (issue 15), the inputs of the cost
 * model in docs/cluster.md:
 *
 * - heap per remote route: the supervisor's NodeState and a shard's NodeRouting (the classes
 *   the running node uses), 100,000 filters added in this process, V8 heap after a full GC
 *   before and after; the supervisor's own routes too (NodeState.localRoute, which also feeds
 *   the trie a peer's messages are matched against);
 * - heap per client registry entry: the real ClientRegistry (src/cluster/registry.ts, its map
 *   and its per-node index) fed 100,000 ids of one peer through REG_ADD frames;
 * - bytes on the link per route (full set and one SUBSCRIBE at a time), per connect (CLIENT_OPEN
 *   and the registry's REG_ADD, and REG_DEL when the session ends with the connection) and per
 *   forwarded PUBLISH: two real nodes whose link runs through a byte-counting TCP proxy here;
 * - CPU per forwarded message on each node: /proc/<pid>/stat (user + system, every thread of
 *   the node process: supervisor and shards) over a QoS 1 fan-in with the subscriber on B, and
 *   the same with the subscriber on A (no hop) as the baseline, alternating rounds.
 *
 * `deno run -A bench/cluster_cost.ts [--routes N] [--messages N] [--rounds N]`
 *
 * `--only route_sync [--chunks N] [--per N]`: only the cost of `cluster.route_sync = sync` per
 * SUBSCRIBE, against `async`, with 2 and 3 nodes (bench/_route_sync_cost.ts).
 */

import v8 from "node:v8";
import vm from "node:vm";
import { NodeState } from "../src/cluster/node_state.ts";
import type { ClusterHost } from "../src/cluster/host.ts";
import { NodeRouting } from "../src/shard/node_routing.ts";
import { ClientRegistry, REG_BATCH } from "../src/cluster/registry.ts";
import { routeSyncCost } from "./_route_sync_cost.ts";
import type { Links } from "../src/cluster/links.ts";
import type { PeerLink } from "../src/cluster/peer_link.ts";
import { Frame, REG_VERSION } from "../src/cluster/proto_v1.ts";
import { FieldReader, FieldWriter } from "../src/ipc/mod.ts";
import {
  benchArgs,
  client,
  freePort,
  median,
  type Node,
  publishEach,
  startNode,
  stopNode,
  until,
  waitRoute,
} from "./_cluster_nodes.ts";

const { args, number } = benchArgs();
const ROUTES = number("--routes", 100_000);
const MESSAGES = number("--messages", 20_000);
const ROUNDS = number("--rounds", 3);
const CLIENT_OPENS = 1_000;
const LIVE_ROUTES = 1_000;
const PAYLOAD = 64;

if (args.get("--only") === "route_sync") {
  await routeSyncCost(number("--chunks", 10), number("--per", 50));
  Deno.exit(0);
}

// --- Heap per route (this process) -----------------------------------------------------------

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().heapUsed;
}

/** Per-device exact filters, as the cost model assumes; fresh strings, as a decoder makes them. */
const filterOf = (i: number) => `devices/dev-${String(i).padStart(7, "0")}/cmd`;

const noHost: ClusterHost = {
  tls: null,
  shardCount: 2,
  shardOf: () => 0,
  toShard: () => {},
  request: () => Promise.resolve(null),
  serve: () => Promise.resolve(null),
  pauseClients: () => {},
};

/** Bytes of heap each of `n` routes added by `add` keeps (held by `keep` until measured). */
function heapPerRoute(n: number, make: () => unknown, add: (held: unknown, i: number) => void) {
  const before = heapAfterGc();
  const held = make();
  for (let i = 0; i < n; i++) add(held, i);
  const after = heapAfterGc();
  // Keeps `held` alive through the measurement.
  if (held === null) throw new Error("unreachable");
  return (after - before) / n;
}

const supRemote = heapPerRoute(ROUTES, () => new NodeState(noHost), (s, i) => {
  (s as NodeState).remoteRoutes("b@127.0.0.1", true, [filterOf(i)]);
});
const supLocal = heapPerRoute(ROUTES, () => new NodeState(noHost), (s, i) => {
  (s as NodeState).localRoute(i % 2, true, filterOf(i));
});
const shardRemote = heapPerRoute(ROUTES, () => new NodeRouting(true, () => {}), (r, i) => {
  (r as NodeRouting).remoteRoute(true, "b@127.0.0.1", filterOf(i));
});
// A second node's routes on the same filters: what one more node with the same filters adds.
const shardSecondNode = (() => {
  const r = new NodeRouting(true, () => {});
  for (let i = 0; i < ROUTES; i++) r.remoteRoute(true, "b@127.0.0.1", filterOf(i));
  return heapPerRoute(ROUTES, () => r, (held, i) => {
    (held as NodeRouting).remoteRoute(true, "c@127.0.0.1", filterOf(i));
  });
})();

// The peers' client registry entries as ClientRegistry keeps them (id → node name, and the
// node's index of its ids), from REG_ADD frames as a link delivers them (decoded strings).
const regEntry = (() => {
  const link = { peer: "b@127.0.0.1", isUp: true, send: () => {} } as unknown as PeerLink;
  const links = {
    linked: new Map([["b@127.0.0.1", link]]),
    get: () => link,
    broadcast: () => {},
  } as unknown as Links;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < ROUTES; i += REG_BATCH) {
    const end = Math.min(ROUTES, i + REG_BATCH);
    const w = new FieldWriter().u8(REG_VERSION).u32(end - i);
    for (let j = i; j < end; j++) w.str(`c${String(j).padStart(9, "0")}`);
    frames.push(w.finish());
  }
  let at = 0;
  return heapPerRoute(ROUTES, () => new ClientRegistry(links, ROUTES * 2), (reg) => {
    // One frame per REG_BATCH calls: the ids arrive as a link delivers them.
    if (at % REG_BATCH === 0) {
      (reg as ClientRegistry).frame(link, Frame.RegAdd, new FieldReader(frames[at / REG_BATCH]!));
    }
    at++;
  });
})();

// --- Two nodes through a counting proxy ----------------------------------------------------------

/** A TCP proxy to `target` that counts the bytes of each direction. */
function countingProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts = { toTarget: 0, fromTarget: 0 };
  const pipe = async (from: Deno.Conn, to: Deno.Conn, key: "toTarget" | "fromTarget") => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        counts[key] += n;
        let at = 0;
        while (at < n) at += await to.write(buf.subarray(at, n));
      }
    } catch { /* closed */ }
    try {
      to.close();
    } catch { /* closed */ }
  };
  void (async () => {
    for await (const conn of listener) {
      // The target may be down (restarting): this connection fails, the next one is tried.
      Deno.connect({ hostname: "127.0.0.1", port: target }).then((up) => {
        void pipe(conn, up, "toTarget");
        void pipe(up, conn, "fromTarget");
      }, () => conn.close());
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, counts, close: () => listener.close() };
}

/** CPU seconds (user + system, all threads) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5), counted from 1 with pid and comm: utime, stime in ticks.
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Fan-in of MESSAGES QoS 1 from 4 publishers on A; CPU seconds of A and B over it. */
async function fanInCpu(a: Node, b: Node, sub: Node, tag: string) {
  const topic = `cost/${tag}`;
  const s = await client(sub.mqttPort, `cs-${tag}`);
  await s.subscribeAsync(topic, { qos: 1 });
  const pubs = await Promise.all([0, 1, 2, 3].map((i) => client(a.mqttPort, `cp${i}-${tag}`)));
  await waitRoute(pubs[0]!, s, topic);
  let got = 0;
  s.on("message", (t) => {
    if (t === topic) got++;
  });
  await new Promise((r) => setTimeout(r, 200));
  got = 0;
  const payload = new Uint8Array(PAYLOAD);
  const per = Math.floor(MESSAGES / pubs.length);
  const [a0, b0] = [cpuSeconds(a.child.pid), cpuSeconds(b.child.pid)];
  await publishEach(pubs, topic, payload, per);
  await until(() => got >= per * pubs.length, 120_000);
  const [a1, b1] = [cpuSeconds(a.child.pid), cpuSeconds(b.child.pid)];
  await Promise.all([s, ...pubs].map((c) => c.endAsync()));
  return { a: (a1 - a0) / (per * pubs.length), b: (b1 - b0) / (per * pubs.length) };
}

const [ca, cb] = [freePort(), freePort()];
const proxy = countingProxy(ca);
const a = await startNode("a", ca, []);
const b = await startNode("b", cb, [`a@127.0.0.1:${proxy.port}`]);
await until(() => a.logs.some((l) => l.includes("is up")), 30_000);
await new Promise((r) => setTimeout(r, 500));

// Heartbeats and the like while nothing happens, to subtract.
const idle0 = { ...proxy.counts };
const idleFrom = performance.now();
await new Promise((r) => setTimeout(r, 2000));
const idleRate = (proxy.counts.toTarget + proxy.counts.fromTarget - idle0.toTarget -
  idle0.fromTarget) / 2 / ((performance.now() - idleFrom) / 1000);
/** Bytes one way (B → A, toTarget) since `from`, less heartbeats. */
const bToA = (from: { toTarget: number }, since: number) =>
  proxy.counts.toTarget - from.toTarget - idleRate * (performance.now() - since) / 1000;

// CPU per forwarded message: alternating rounds, subscriber on B (hop) and on A (none). The
// publishers are on A; B also carries the link's bytes to B's subscriber.
const cpuHop: { a: number; b: number }[] = [];
const cpuLocal: { a: number; b: number }[] = [];
let forwardBytes = 0;
for (let r = 0; r < ROUNDS; r++) {
  cpuLocal.push(await fanInCpu(a, b, a, `l${r}`));
  const from = { ...proxy.counts };
  cpuHop.push(await fanInCpu(a, b, b, `r${r}`));
  // A → B is fromTarget (B dialled A through the proxy).
  forwardBytes = (proxy.counts.fromTarget - from.fromTarget) / MESSAGES;
}

// Routes one SUBSCRIBE at a time (on B, replicated to A) and CLIENT_OPEN (connects on B).
const subB = await client(b.mqttPort, "cost-subs");
let from = { ...proxy.counts };
let since = performance.now();
for (let i = 0; i < LIVE_ROUTES; i++) await subB.subscribeAsync(filterOf(i), { qos: 0 });
await new Promise((r) => setTimeout(r, 300));
const liveRouteBytes = bToA(from, since) / LIVE_ROUTES;
from = { ...proxy.counts };
since = performance.now();
for (let i = 0; i < CLIENT_OPENS; i++) {
  const c = await client(b.mqttPort, `co-${String(i).padStart(6, "0")}`);
  await c.endAsync();
}
await new Promise((r) => setTimeout(r, 300));
const clientOpenBytes = bToA(from, since) / CLIENT_OPENS;
// Persistent sessions: CLIENT_OPEN and REG_ADD at the connect, nothing at the close.
from = { ...proxy.counts };
since = performance.now();
for (let i = 0; i < CLIENT_OPENS; i++) {
  const c = await client(b.mqttPort, `ps-${String(i).padStart(6, "0")}`, true);
  await c.endAsync();
}
await new Promise((r) => setTimeout(r, 300));
const persistOpenBytes = bToA(from, since) / CLIENT_OPENS;
await subB.endAsync();

// The full set: ROUTES filters on B, then A is restarted and B sends them on link up.
const many = await client(b.mqttPort, "cost-many");
for (let i = 0; i < ROUTES; i += 1000) {
  const filters: Record<string, { qos: 0 }> = {};
  for (let k = i; k < i + 1000 && k < ROUTES; k++) filters[filterOf(LIVE_ROUTES + k)] = { qos: 0 };
  await many.subscribeAsync(filters);
}
await stopNode(a);
const a2 = await startNode("a", ca, []);
from = { ...proxy.counts };
since = performance.now();
const done = /full route set of b@127.0.0.1 received: (\d+) routes/;
await until(() => a2.logs.some((l) => done.test(l)), 120_000);
const fullRouteBytes = bToA(from, since) / ROUTES;
await many.endAsync();
for (const n of [a2, b]) await stopNode(n);
proxy.close();

const us = (s: number) => (s * 1e6).toFixed(1);
console.log(`heap per route (${ROUTES} exact filters like ${filterOf(0)}, V8 heap after GC):`);
console.log(`  supervisor, a peer's route (NodeState): ${supRemote.toFixed(0)} B`);
console.log(`  supervisor, its own shard's route (NodeState.localRoute): ${supLocal.toFixed(0)} B`);
console.log(`  shard, a peer's route (NodeRouting): ${shardRemote.toFixed(0)} B`);
console.log(`  shard, a second node on the same filters: ${shardSecondNode.toFixed(0)} B`);
console.log(`CPU per message, QoS 1 fan-in of ${MESSAGES} × ${PAYLOAD} B, 4 publishers on A:`);
console.log(
  `  subscriber on B: A ${us(median(cpuHop.map((c) => c.a)))} µs, B ${
    us(median(cpuHop.map((c) => c.b)))
  } µs  (rounds A ${cpuHop.map((c) => us(c.a)).join(", ")}; B ${
    cpuHop.map((c) => us(c.b)).join(", ")
  })`,
);
console.log(
  `  subscriber on A: A ${us(median(cpuLocal.map((c) => c.a)))} µs  (rounds ${
    cpuLocal.map((c) => us(c.a)).join(", ")
  })`,
);
console.log(`link bytes (heartbeats subtracted, ${idleRate.toFixed(0)} B/s):`);
console.log(`  forwarded PUBLISH of ${PAYLOAD} B payload: ${forwardBytes.toFixed(1)} B`);
console.log(`  route, one SUBSCRIBE at a time: ${liveRouteBytes.toFixed(1)} B`);
console.log(`  route, in the full set on link up: ${fullRouteBytes.toFixed(1)} B`);
console.log(
  `  connect + close, session ends (CLIENT_OPEN, REG_ADD, REG_DEL; 9-character ids): ${
    clientOpenBytes.toFixed(1)
  } B`,
);
console.log(
  `  connect + close, session kept (CLIENT_OPEN, REG_ADD; 9-character ids): ${
    persistOpenBytes.toFixed(1)
  } B`,
);
console.log(`heap per client registry entry (10-character ids): ${regEntry.toFixed(0)} B`);
