/**
 * `deno task bench:api` (issue 14): what the HTTP API costs the message path. Runs Culex's
 * fan-in QoS 0 scenario (50 publishers -> 1 `bench/#` subscriber, 64 B, the `fanin-qos0` of
 * `deno task bench`) three times on one broker: alone, while a client polls
 * `GET /api/v5/clients?limit=100` ten times a second and `GET /api/v5/prometheus/stats` once a
 * second, and alone again; prints the delivered rates and the drop against the mean of the two
 * quiet runs (issue 14: at most 5%). Then holds N idle clients (default 20,000, capped by the
 * open-file limit) and times `GET /clients?limit=100` (one page) and a `like_clientid` search
 * that scans every session. Uses the bench's load generator and broker starter; writes nothing
 * outside a temp dir.
 *
 *   deno task bench:api [--duration 10] [--shards 2] [--clients 20000] [--loadgen node|deno]
 */

import { parseArgs } from "node:util";
import { fdRoom, freePort, onPath, startBroker } from "./brokers.ts";
import type { FloodSpec } from "./lg_flood.ts";
import type { IdleSpec } from "./lg_modes.ts";
import { type LoadProc, prepareRuntime, startAll } from "./lg_proc.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    shards: { type: "string", default: "2" },
    clients: { type: "string", default: "20000" },
    loadgen: { type: "string" },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const SHARDS = Number(flags.shards);
const KEY = "bench";
const SECRET = "bench-secret-0123456789";

const work = await Deno.makeTempDir({ prefix: "culex_bench_api_" });
const lgKind = flags.loadgen === "deno" || flags.loadgen === "node"
  ? flags.loadgen
  : (await onPath("node"))
  ? "node"
  : "deno";
const rt = await prepareRuntime(lgKind, work);
await Deno.writeTextFile(`${work}/keys.txt`, `${KEY}:${SECRET}\n`);
const apiPort = freePort();
const broker = await startBroker({ name: `culex-${SHARDS}`, kind: "culex", shards: SHARDS }, {
  culexSets: [
    `dashboard.listeners.http.bind=127.0.0.1:${apiPort}`,
    `api_key.bootstrap_file=${work}/keys.txt`,
    `node.data_dir=${work}/data`,
  ],
});
const auth = `Basic ${btoa(`${KEY}:${SECRET}`)}`;

/** Answers other than 200 (a 503 is a shard that did not answer within 5 s). */
const failed: string[] = [];

async function get(path: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${apiPort}/api/v5${path}`, {
    headers: { authorization: auth },
  });
  await r.arrayBuffer();
  if (r.status !== 200) failed.push(`GET ${path}: ${r.status}`);
  return performance.now() - t0;
}

async function fanIn(tag: string): Promise<number> {
  const spec: FloodSpec = {
    mode: "flood",
    port: broker.port,
    durationMs: DURATION_MS,
    idPrefix: tag,
    maxMessages: 0,
    pubs: 50,
    subs: 1,
    qos: 0,
    topic: "bench/fanin",
    sameTopic: false,
    filter: "bench/#",
    payload: 64,
    window: 32,
    lag: 5000,
  };
  const [proc] = await startAll(rt, [spec]);
  const r = await proc!.expect("done", DURATION_MS + 60_000);
  await proc!.end();
  return Number(r.windowReceived) * 1000 / Number(r.windowMs);
}

/** Polls the API as issue 14 says until stopped; the latencies per path. */
function poll(): { stop(): Promise<{ clients: number[]; prometheus: number[] }> } {
  const clients: number[] = [];
  const prometheus: number[] = [];
  let running = true;
  const loop = async (every: number, path: string, out: number[]) => {
    while (running) {
      const t0 = performance.now();
      out.push(await get(path));
      await new Promise((r) => setTimeout(r, Math.max(0, every - (performance.now() - t0))));
    }
  };
  const loops = [
    loop(100, "/clients?limit=100", clients),
    loop(1000, "/prometheus/stats", prometheus),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { clients, prometheus };
    },
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))] ?? NaN;
}

const f = (n: number) => n.toFixed(1);
try {
  console.log(
    `Culex ${SHARDS} shards, fan-in QoS 0 for ${DURATION_MS / 1000} s per run (${lgKind} loadgen)`,
  );
  const quiet1 = await fanIn("q1");
  console.log(`  quiet:                       ${Math.round(quiet1)} msg/s`);
  const poller = poll();
  const polled = await fanIn("p1");
  const lat = await poller.stop();
  console.log(`  /clients 10/s + prometheus 1/s: ${Math.round(polled)} msg/s`);
  const quiet2 = await fanIn("q2");
  console.log(`  quiet again:                 ${Math.round(quiet2)} msg/s`);
  const base = (quiet1 + quiet2) / 2;
  if (failed.length > 0) console.log(`  API errors: ${failed.length}, first: ${failed[0]}`);
  console.log(`  drop while polled: ${f((1 - polled / base) * 100)}% (target <= 5%)`);
  console.log(
    `  GET /clients?limit=100 during fan-in: ${lat.clients.length} requests, p50 ${
      f(pct(lat.clients, 0.5))
    } ms, p99 ${f(pct(lat.clients, 0.99))} ms; /prometheus/stats p50 ${
      f(pct(lat.prometheus, 0.5))
    } ms`,
  );

  const want = Number(flags.clients);
  const n = Math.max(0, Math.min(want, fdRoom(broker.pid) - 128));
  const perProc = 5000;
  const specs: IdleSpec[] = Array.from({ length: Math.ceil(n / perProc) }, (_, i) => ({
    mode: "idle",
    port: broker.port,
    clients: Math.min(perProc, n - i * perProc),
    concurrency: 64,
    idPrefix: `idle${i}`,
  }));
  const idle: LoadProc[] = await startAll(rt, specs);
  const done = await Promise.all(idle.map((p) => p.expect("done", 300_000)));
  const connected = done.reduce((a, d) => a + Number(d.connected), 0);
  const page: number[] = [];
  const scan: number[] = [];
  for (let i = 0; i < 20; i++) {
    page.push(await get("/clients?limit=100"));
    scan.push(await get("/clients?like_clientid=idle1-&limit=100"));
  }
  console.log(
    `  ${connected} idle clients${
      n < want ? ` (capped from ${want} by the open-file limit)` : ""
    }: ` +
      `GET /clients?limit=100 p50 ${f(pct(page, 0.5))} ms, max ${f(Math.max(...page))} ms; ` +
      `like_clientid search p50 ${f(pct(scan, 0.5))} ms, max ${f(Math.max(...scan))} ms ` +
      `(target <= 200 ms)`,
  );
  await Promise.all(idle.map((p) => p.end()));
} finally {
  await broker.stop();
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
