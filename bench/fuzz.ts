/**
 * `deno task fuzz`: the long decoder fuzz of issue #10. Floods Culex (1, then 4 shards) and
 * Mosquitto, one after the other, each with the same seeded stream of mutated packets on
 * short-lived connections (default 1,000,000 packets at 1,000 new connections a second), while
 * healthy clients exchange QoS 1 messages and fresh clients connect; prints the figures side by
 * side, writes bench/results/fuzz-latest.json, and exits 1 when a healthy client was dropped, a
 * fresh client refused, a QoS 1 message lost or a broker crashed. `--replay` finds and minimises
 * the connection that broke Culex (fuzz_replay.ts). See bench/README.md.
 */

import { parseArgs } from "node:util";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type BrokerDef, firstLine, onPath } from "./brokers.ts";
import { type FuzzResult, type Pcts, runFuzz } from "./fuzz_run.ts";
import { replay } from "./fuzz_replay.ts";
import { parseSeed, seedFromEnv } from "../tests/_helpers/fuzz/prng.ts";

const USAGE = `Usage: deno task fuzz [options]

  --packets N       mutated and valid packets per broker (default 1000000)
  --seed S          seed of the packet stream (default: CULEX_FUZZ_SEED, else random)
  --shards LIST     shard counts of the Culex runs (default 1,4)
  --brokers LIST    culex,mosquitto (default both)
  --rate R          new fuzz connections a second (default 1000)
  --in-flight N     fuzz connections open at once, at most (default 256)
  --settle S        seconds after the flood before the last memory reading (default 60)
  --out FILE        JSON results (default bench/results/fuzz-latest.json)
  --replay S:A-B    replay connections A..B of seed S one at a time on Culex (first --shards
                    value), find the one that breaks it, minimise its packets, print them
`;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    packets: { type: "string", default: "1000000" },
    seed: { type: "string" },
    shards: { type: "string", default: "1,4" },
    brokers: { type: "string", default: "culex,mosquitto" },
    rate: { type: "string", default: "1000" },
    "in-flight": { type: "string", default: "256" },
    settle: { type: "string", default: "60" },
    out: { type: "string" },
    replay: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function usageError(msg: string): never {
  console.error(`fuzz: ${msg}\n\n${USAGE}`);
  Deno.exit(2);
}
function intFlag(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    usageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

const shardList = flags.shards.split(",").map((s) => intFlag("shards", s.trim(), 1, 64));
const log = (line: string) => console.log(line);

if (flags.replay !== undefined) {
  const m = /^(\w+):(\d+)-(\d+)$/.exec(flags.replay);
  if (!m) usageError(`--replay takes SEED:FROM-TO, got "${flags.replay}"`);
  const code = await replay({
    seed: parseSeed(m[1]!),
    from: Number(m[2]),
    to: Number(m[3]),
    shards: shardList[0] ?? 1,
    log,
  });
  Deno.exit(code);
}

const packets = intFlag("packets", flags.packets, 1, 100_000_000);
const rate = intFlag("rate", flags.rate, 1, 20_000);
const inFlight = intFlag("in-flight", flags["in-flight"], 1, 5_000);
const settleS = intFlag("settle", flags.settle, 0, 3_600);
const seed = flags.seed !== undefined ? parseSeed(flags.seed) : seedFromEnv();
const outFile = flags.out ?? fromFileUrl(new URL("./results/fuzz-latest.json", import.meta.url));

const brokers: BrokerDef[] = [];
const versions: Record<string, string> = { deno: Deno.version.deno };
for (const b of flags.brokers.split(",").map((s) => s.trim())) {
  if (b === "culex") {
    for (const n of shardList) brokers.push({ name: `culex-${n}`, kind: "culex", shards: n });
  } else if (b === "mosquitto") {
    if (!(await onPath("mosquitto"))) {
      console.error("fuzz: mosquitto is not installed (apt-get install mosquitto); skipped");
      continue;
    }
    versions.mosquitto = await firstLine("mosquitto", ["-h"]);
    brokers.push({ name: "mosquitto", kind: "mosquitto" });
  } else usageError(`unknown broker "${b}"`);
}

log(
  `fuzz: seed ${seed}, ${packets} packets per broker, ${rate} connections/s, ` +
    `at most ${inFlight} open, settle ${settleS} s; brokers ${brokers.map((b) => b.name)}`,
);
const results: FuzzResult[] = [];
for (const def of brokers) {
  log(`${def.name}: starting`);
  const r = await runFuzz(def, { packets, seed, rate, inFlight, settleS, probeMs: 500, log });
  results.push(r);
  log(`${def.name}: ${r.problems.length === 0 ? "ok" : `FAILED\n  ${r.problems.join("\n  ")}`}`);
}

const f1 = (n: number) => Number.isFinite(n) ? n.toFixed(1) : "-";
const pcts = (p: Pcts) => `${f1(p.p50)} / ${f1(p.p99)} / ${f1(p.max)}`;
const ROWS: readonly [string, (r: FuzzResult) => string][] = [
  ["packets sent", (r) => r.flood.packets.toLocaleString("en-US")],
  ["connections made", (r) => r.flood.connections.toLocaleString("en-US")],
  ["TCP connects failed", (r) => {
    const why = Object.entries(r.flood.connectErrorCodes).map(([k, n]) => `${k} ${n}`);
    return r.flood.connectErrors === 0 ? "0" : `${r.flood.connectErrors} (${why.join(", ")})`;
  }],
  ["closed by the broker", (r) => r.flood.closedByBroker.toLocaleString("en-US")],
  ["flood duration [s]", (r) => f1(r.flood.elapsedMs / 1000)],
  ["new connections/s", (r) => f1(r.flood.connections / (r.flood.elapsedMs / 1000))],
  ["healthy delivery p50/p99/max [ms]", (r) => pcts(r.delivery)],
  ["healthy PUBACK p50/p99/max [ms]", (r) => pcts(r.puback)],
  ["QoS 1 sent / delivered", (r) => `${r.qos1Sent} / ${r.qos1Delivered}`],
  ["fresh connects accepted", (r) => `${r.probesOk} / ${r.probesTotal}`],
  ["healthy clients stayed connected", (r) => r.healthyStayed ? "yes" : "NO"],
  ["wills after clean DISCONNECT", (r) => String(r.willsAfterCleanDisconnect)],
  ["RSS start [MiB]", (r) => f1(r.rssStartMiB)],
  ["RSS peak [MiB]", (r) => f1(r.rssPeakMiB)],
  [`RSS ${settleS} s after the flood [MiB]`, (r) => f1(r.rssAfterMiB)],
  ["load average, flood start / end", (r) => `${f1(r.loadAvg[0])} / ${f1(r.loadAvg[1])}`],
  ["exit code on SIGTERM", (r) => String(r.exitCode)],
  ["verdict", (r) => r.problems.length === 0 ? "ok" : "FAILED"],
];
const w0 = Math.max(...ROWS.map(([n]) => n.length));
const cols = results.map((r) => Math.max(r.broker.length, ...ROWS.map(([, g]) => g(r).length)));
log(`\nfuzz results (seed ${seed}; ${Object.entries(versions).map(([k, v]) => `${k} ${v}`)})`);
log(["".padEnd(w0), ...results.map((r, i) => r.broker.padStart(cols[i]!))].join("  "));
for (const [name, get] of ROWS) {
  log([name.padEnd(w0), ...results.map((r, i) => get(r).padStart(cols[i]!))].join("  "));
}

await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  outFile,
  JSON.stringify({ seed, packets, rate, inFlight, settleS, versions, results }, null, 2),
);
log(`\nJSON: ${outFile}`);
Deno.exit(results.some((r) => r.problems.length > 0) ? 1 : 0);
