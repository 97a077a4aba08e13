/**
 * `deno task bench:api` (issue 14): what the HTTP API costs the message path. Runs Culex's
 * fan-in QoS 0 scenario (50 publishers -> 1 `bench/#` subscriber, 64 B, the `fanin-qos0` of
 * `deno task bench`) on one broker: a warm-up run, then alone and while a client polls
 * `GET /api/v5/clients?limit=100` ten times a second and `GET /api/v5/prometheus/stats` once a
 * second, alternating (`--rounds` polled runs between rounds+1 quiet ones); prints the delivered
 * rates and the drop of the polled runs' mean against the quiet runs' mean (issue 14: at most 5%). Then holds N idle clients (default 20,000, capped by the
 * open-file limit) and times `GET /clients?limit=100` (one page) and a `like_clientid` search
 * that scans every session. Uses the bench's load generator and broker starter; writes nothing
 * outside a temp dir.
 *
 *   deno task bench:api [--duration 10] [--rounds 2] [--shards 2] [--clients 20000]
 *                       [--loadgen node|deno]
 */

import { parseArgs } from "node:util";
import { fdRoom, freePort, onPath, startBroker } from "./brokers.ts";
import type { FloodSpec } from "./lg_flood.ts";
import { FANIN_QOS0 } from "./scenarios.ts";
import type { IdleSpec } from "./lg_modes.ts";
import { type LoadProc, prepareRuntime, startAll } from "./lg_proc.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    shards: { type: "string", default: "2" },
    clients: { type: "string", default: "20000" },
    loadgen: { type: "string" },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const ROUNDS = Math.max(1, Number(flags.rounds) || 2);
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
    ...FANIN_QOS0, // the `fanin-qos0` of `deno task bench`
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
  // A fresh broker and load generator speed up over their first runs (JIT, heap sizing): one
  // unmeasured run first, then quiet and polled runs alternate so that a trend does not read as
  // a drop (measured: quiet, polled, quiet gave 277k, 298k, 373k msg/s).
  const warm = await fanIn("w");
  console.log(`  warm-up (not counted):       ${Math.round(warm)} msg/s`);
  const quiet: number[] = [];
  const polled: number[] = [];
  const clientsMs: number[] = [];
  const prometheusMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    quiet.push(await fanIn(`q${round}`));
    const poller = poll();
    polled.push(await fanIn(`p${round}`));
    const lat = await poller.stop();
    clientsMs.push(...lat.clients);
    prometheusMs.push(...lat.prometheus);
  }
  quiet.push(await fanIn(`q${ROUNDS}`));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rates = (xs: number[]) => xs.map(Math.round).join(", ");
  console.log(`  quiet:                       ${rates(quiet)} msg/s`);
  console.log(`  /clients 10/s + prometheus 1/s: ${rates(polled)} msg/s`);
  const base = mean(quiet);
  const lat = { clients: clientsMs, prometheus: prometheusMs };
  if (failed.length > 0) console.log(`  API errors: ${failed.length}, first: ${failed[0]}`);
  console.log(
    `  drop while polled (means): ${f((1 - mean(polled) / base) * 100)}% (target <= 5%)`,
  );
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
