/**
 * One broker's run of `deno task fuzz`: starts the broker (bench/brokers.ts), connects four
 * healthy QoS 1 pairs spread over the shards (publishers with wills), floods it from a worker
 * (fuzz_worker.ts) with mutated packets on short-lived connections, probes fresh connects during
 * and after the flood, lets memory settle, and reports. Owns that broker, worker and those
 * clients for the length of the run; all of them talk to 127.0.0.1 only.
 */

import type { MqttClient } from "mqtt";
import { type BrokerDef, memKiB, startBroker } from "./brokers.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  drain,
  runTag,
  sleep,
  subscribe,
} from "../tests/_helpers/clients.ts";
import type { FloodOptions, FloodStats } from "../tests/_helpers/fuzz/flood.ts";
import { DEFAULT_GEN } from "../tests/_helpers/fuzz/gen_client.ts";
import { HealthyPair, percentiles, probe } from "../tests/_helpers/fuzz/healthy.ts";
import type { FloodWorkerIn, FloodWorkerOut } from "./fuzz_worker.ts";

/** How a run floods and measures. */
export interface FuzzRunOptions {
  packets: number;
  seed: number;
  /** New fuzz connections a second. */
  rate: number;
  inFlight: number;
  /** Seconds memory may settle after the flood before the last RSS reading. */
  settleS: number;
  /** A fresh client every probeMs during the flood. */
  probeMs: number;
  log: (line: string) => void;
}

/** p50, p99, max in ms. */
export type Pcts = { p50: number; p99: number; max: number };

/** What one broker's run measured. */
export interface FuzzResult {
  broker: string;
  seed: number;
  flood: FloodStats;
  /** Healthy publish → delivery during the flood. */
  delivery: Pcts;
  /** Healthy PUBLISH → PUBACK during the flood. */
  puback: Pcts;
  qos1Sent: number;
  qos1Delivered: number;
  probesOk: number;
  probesTotal: number;
  healthyStayed: boolean;
  /** Wills the watcher got after the healthy clients' clean DISCONNECT (must be 0). */
  willsAfterCleanDisconnect: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  /** RSS every 5 s of the settle window, from its start. */
  rssSettleMiB: number[];
  /** 1-minute load average of the machine when the flood started and when it ended. */
  loadAvg: [number, number];
  exitCode: number;
  /** Why the run fails the bench (empty: it passes). */
  problems: string[];
}

const PAIRS = 4;
const AFTER_PROBES = 10;
const LIFE_MS = 1_000;
const mib = (kib: number) => kib / 1024;

/** The machine's 1-minute load average (NaN where /proc/loadavg is missing). */
function loadAvg(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** Runs the flood in a worker; resolves with its final counters. */
function floodInWorker(
  options: FloodOptions,
  onProgress: (s: FloodStats) => void,
): { done: Promise<FloodStats>; stop(): void; terminate(): void } {
  const worker = new Worker(new URL("./fuzz_worker.ts", import.meta.url), { type: "module" });
  const done = new Promise<FloodStats>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FloodWorkerOut>) => {
      if (e.data.ev === "done") resolve(e.data.stats);
      else onProgress(e.data.stats);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`flood worker: ${e.message}`));
    };
  });
  worker.postMessage({ ev: "start", options } satisfies FloodWorkerIn);
  return {
    done,
    stop: () => worker.postMessage({ ev: "stop" } satisfies FloodWorkerIn),
    terminate: () => worker.terminate(),
  };
}

/** Runs the whole fuzz against one broker. */
export async function runFuzz(def: BrokerDef, o: FuzzRunOptions): Promise<FuzzResult> {
  const broker = await startBroker(def, {});
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const shards = def.shards ?? 1;
  const tag = runTag();
  const willTopic = `fzb/${tag}/will`;
  const problems: string[] = [];
  let pairs: HealthyPair[] = [];
  let watcher: MqttClient | null = null;
  let worker: ReturnType<typeof floodInWorker> | null = null;
  let peak = 0;
  const sample = () => {
    const rss = memKiB(broker.pid).rss;
    if (Number.isFinite(rss)) peak = Math.max(peak, rss);
    return rss;
  };
  const result: FuzzResult = {
    broker: def.name,
    seed: o.seed,
    flood: {
      connections: 0,
      connectErrors: 0,
      packets: 0,
      bytes: 0,
      closedByBroker: 0,
      connectErrorCodes: {},
      nextIndex: 0,
      elapsedMs: 0,
    },
    delivery: { p50: NaN, p99: NaN, max: NaN },
    puback: { p50: NaN, p99: NaN, max: NaN },
    qos1Sent: 0,
    qos1Delivered: 0,
    probesOk: 0,
    probesTotal: 0,
    healthyStayed: false,
    willsAfterCleanDisconnect: 0,
    rssStartMiB: NaN,
    rssPeakMiB: NaN,
    rssAfterMiB: NaN,
    rssSettleMiB: [],
    loadAvg: [NaN, NaN],
    exitCode: -1,
    problems,
  };
  try {
    // Pair k: subscriber on shard k, publisher on shard k + 1, 3.1.1 and 5.0 alternating.
    pairs = await Promise.all(Array.from({ length: PAIRS }, (_, k) =>
      HealthyPair.open({
        url,
        version: k % 2 === 0 ? 4 : 5,
        subId: clientIdForShard(k, shards, `fzh${k}s`),
        pubId: clientIdForShard(k + 1, shards, `fzh${k}p`),
        topic: `fzb/${tag}/healthy/${k}`,
        will: { topic: `${willTopic}/${k}`, payload: "must not be published" },
        intervalMs: 10,
        maxMessages: 1_000_000,
      })));
    watcher = await connect(url, { protocolVersion: 5, clientId: `fzw${tag}` });
    await subscribe(watcher, `${willTopic}/#`, { qos: 1 });
    for (const p of pairs) p.start();
    await sleep(2_000);
    result.rssStartMiB = mib(sample());
    result.loadAvg[0] = loadAvg();
    const marks = pairs.map((p) => p.latencies().length);

    const expectedS = o.packets / (o.rate * 7);
    const options: FloodOptions = {
      port: broker.port,
      seed: o.seed,
      gen: DEFAULT_GEN,
      maxConnections: o.packets,
      maxPackets: o.packets,
      maxMs: Math.ceil(expectedS * 4 + 60) * 1000,
      inFlight: o.inFlight,
      rate: o.rate,
      lifeMs: LIFE_MS,
    };
    let last: FloodStats = result.flood;
    let lastLog = 0;
    worker = floodInWorker(options, (s) => {
      last = s;
      sample();
      if (s.elapsedMs - lastLog >= 10_000) {
        lastLog = s.elapsedMs;
        o.log(
          `  ${def.name}: ${(s.elapsedMs / 1000).toFixed(0)} s, ${s.packets} packets, ` +
            `${s.connections} connections, RSS ${mib(sample()).toFixed(0)} MiB`,
        );
      }
    });
    let flooding = true;
    const probing = (async () => {
      for (let k = 0; flooding && k < 1_000_000; k++) {
        await sleep(o.probeMs);
        if (!flooding) break;
        const r = await probe(url, k % 2 === 0 ? 4 : 5, clientIdForShard(k, shards, `fzd${k}`));
        result.probesTotal++;
        if (r.ok) result.probesOk++;
        else if (problems.length < 20) {
          problems.push(`fresh client refused during the flood (#${last.nextIndex}): ${r.error}`);
        }
      }
    })();
    result.flood = await worker.done;
    result.loadAvg[1] = loadAvg();
    flooding = false;
    await probing;
    const during = pairs.map((p, i) => p.latencies().slice(marks[i]));
    result.delivery = percentiles(during.flat());
    for (let k = 0; k < AFTER_PROBES; k++) {
      const r = await probe(url, k % 2 === 0 ? 4 : 5, clientIdForShard(k, shards, `fza${k}`));
      result.probesTotal++;
      if (r.ok) result.probesOk++;
      else problems.push(`fresh client refused after the flood: ${r.error}`);
    }
    o.log(`  ${def.name}: flood done; ${o.settleS} s for memory to settle`);
    for (let s = 0; s < o.settleS; s++) {
      if (s % 5 === 0) result.rssSettleMiB.push(Math.round(mib(sample())));
      await sleep(1_000);
      sample();
    }
    result.rssAfterMiB = mib(sample());
    result.rssPeakMiB = mib(peak);
    const reports = await Promise.all(pairs.map((p) => p.stop(10_000)));
    result.puback = percentiles(reports.flatMap((r, i) => r.pubackRtts.slice(marks[i])));
    result.qos1Sent = reports.reduce((n, r) => n + r.sent, 0);
    result.qos1Delivered = reports.reduce((n, r) => n + r.delivered, 0);
    result.healthyStayed = pairs.every((p) => p.connected);
    for (const r of reports) problems.push(...r.problems.slice(0, 10));
    await Promise.all(pairs.map((p) => p.end()));
    pairs = [];
    await sleep(1_000);
    result.willsAfterCleanDisconnect = (await drain(watcher, 0)).length;
    if (result.willsAfterCleanDisconnect > 0) {
      problems.push(`${result.willsAfterCleanDisconnect} wills published after a clean DISCONNECT`);
    }
  } catch (e) {
    problems.push(`run failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    worker?.stop();
    await worker?.done.catch(() => undefined);
    worker?.terminate();
    await Promise.all(pairs.map((p) => p.end()));
    await closeAll([watcher]);
    const crashed = broker.crashed();
    if (crashed) problems.push(`broker ${crashed}`);
    result.exitCode = await broker.stop();
    if (!crashed && result.exitCode !== 0) problems.push(`exit code ${result.exitCode} on SIGTERM`);
  }
  return result;
}
