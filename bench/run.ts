/**
 * `deno task bench`: runs the scenarios of issue 4 against Culex (1 and N shards), Mosquitto and
 * Aedes, alternating brokers within each round and starting a fresh broker for every run; prints
 * the side-by-side table and the targets, writes bench/results/latest.json, and exits 1 when any
 * run lost QoS 1/2 messages, crashed or failed. See bench/README.md.
 */

import { parseArgs } from "node:util";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type BrokerDef, firstLine, onPath, prepareAedes, startBroker } from "./brokers.ts";
import { prepareRuntime } from "./lg_proc.ts";
import { type RunRecord, summarize, table, targets } from "./report.ts";
import { SCENARIOS } from "./scenarios.ts";
import { makeCerts } from "../tests/_helpers/certs.ts";

const USAGE = `Usage: deno task bench [options]

  --duration S        seconds per timed scenario (default 10)
  --scenarios LIST    comma-separated, default all: ${SCENARIOS.map((s) => s.name).join(",")}
  --rounds N          rounds; brokers alternate within each round (default 3)
  --brokers LIST      culex-1,culex-N,mosquitto,aedes (default all available)
  --shards N          shards of the culex-N broker (default 2)
  --connections N     idle clients of the connections scenario (default 20000)
  --settle S          connections: seconds to let memory settle after each half of the
                      clients, lowest RSS taken (default 25; 0 = 2 s only)
  --loadgen KIND      node (default when installed) or deno
  --cpu-prof DIR      run Culex with --cpu-prof, profiles written under DIR/<broker>-<scenario>-r<round>
  --out FILE          JSON results (default bench/results/latest.json)
  --fail-on WHO       all (default): loss, crash or error in any broker's run exits 1;
                      culex: only Culex runs decide the exit status
`;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    scenarios: { type: "string", default: SCENARIOS.map((s) => s.name).join(",") },
    rounds: { type: "string", default: "3" },
    brokers: { type: "string", default: "culex-1,culex-N,mosquitto,aedes" },
    shards: { type: "string", default: "2" },
    connections: { type: "string", default: "20000" },
    settle: { type: "string", default: "25" },
    loadgen: { type: "string" },
    "cpu-prof": { type: "string" },
    out: { type: "string" },
    "fail-on": { type: "string", default: "all" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function intFlag(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    console.error(`bench: --${name} must be a number >= ${min}, got "${v}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}
const outFile = flags.out ?? fromFileUrl(new URL("./results/latest.json", import.meta.url));
const durationMs = intFlag("duration", flags.duration, 1) * 1000;
const rounds = Math.floor(intFlag("rounds", flags.rounds, 1));
const shards = Math.floor(intFlag("shards", flags.shards, 1));
const connections = Math.floor(intFlag("connections", flags.connections, 1));
const settleMs = intFlag("settle", flags.settle, 0) * 1000;
const scenarios = flags.scenarios.split(",").map((n) => {
  const sc = SCENARIOS.find((s) => s.name === n.trim());
  if (!sc) {
    console.error(`bench: unknown scenario "${n}"\n\n${USAGE}`);
    Deno.exit(2);
  }
  return sc;
});

// Brokers: the wanted ones that can run here.
const brokers: BrokerDef[] = [];
const skipped: string[] = [];
let aedesDir: string | undefined;
const versions: Record<string, string> = { deno: Deno.version.deno };
for (const raw of flags.brokers.split(",").map((b) => b.trim())) {
  if (raw === "culex-1") brokers.push({ name: "culex-1", kind: "culex", shards: 1 });
  else if (raw === "culex-N" || raw === `culex-${shards}`) {
    brokers.push({ name: `culex-${shards}`, kind: "culex", shards });
  } else if (raw === "mosquitto") {
    if (await onPath("mosquitto")) {
      brokers.push({ name: "mosquitto", kind: "mosquitto" });
      versions.mosquitto = await firstLine("mosquitto", ["-h"]);
    } else {
      skipped.push(
        "mosquitto: not installed; install it with `apt-get install mosquitto` " +
          "(Debian/Ubuntu) to compare against it",
      );
    }
  } else if (raw === "aedes") {
    const a = await prepareAedes();
    if (typeof a === "string") skipped.push(`aedes: skipped, ${a}`);
    else {
      aedesDir = a.dir;
      versions.aedes = a.version;
      versions.node = await firstLine("node", ["--version"]);
      brokers.push({ name: "aedes", kind: "aedes" });
    }
  } else {
    console.error(`bench: unknown broker "${raw}"\n\n${USAGE}`);
    Deno.exit(2);
  }
}
const names = [...new Set(brokers.map((b) => b.name))];
const uniqueBrokers = names.map((n) => brokers.find((b) => b.name === n)!);
const culexNames = names.filter((n) => n.startsWith("culex"));

const lgKind = flags.loadgen === "deno" || flags.loadgen === "node"
  ? flags.loadgen
  : (await onPath("node"))
  ? "node"
  : "deno";
const work = await Deno.makeTempDir({ prefix: "culex_bench_" });
const rt = await prepareRuntime(lgKind, work);
// One throw-away CA and server certificate for every broker's TLS listener (issue 12).
const certs = await makeCerts();
// Mosquitto drops root for its own user before reading the key: let anyone read it.
await Deno.chmod(certs.dir, 0o755);
await Deno.chmod(certs.serverKey, 0o644);
const tls = { certFile: certs.serverCert, keyFile: certs.serverKey };

/** A failure on one line for the console (the JSON keeps the whole text). */
function oneLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const err = lines.find((l, i) => i > 0 && /error/i.test(l));
  const short = err ? `${lines[0]} ... ${err}` : lines[0] ?? "";
  return short.length > 300 ? `${short.slice(0, 297)}...` : short;
}

/** The commit under test and whether src/, workers/ or main.ts differ from it (read-only git). */
async function codeVersion(): Promise<string> {
  const head = await firstLine("git", ["-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty = await firstLine("git", [
    "-C",
    REPO,
    "status",
    "--porcelain",
    "--",
    "src",
    "workers",
    "main.ts",
    "config",
  ]);
  return head ? `${head}${dirty ? " (with local changes)" : ""}` : "unknown";
}
const REPO = fromFileUrl(new URL("../", import.meta.url));
const codeAtStart = await codeVersion();

const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
const machine = {
  cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
  cores: navigator.hardwareConcurrency,
  loadavgAtStart: (await Deno.readTextFile("/proc/loadavg").catch(() => "")).trim(),
  os: `${Deno.build.os} ${Deno.build.arch}`,
};
console.log(
  `Culex bench (culex ${codeAtStart}): ${machine.cores} cores (${machine.cpu}), ` +
    `load ${machine.loadavgAtStart}\n` +
    `brokers ${names.join(", ")}; scenarios ${scenarios.map((s) => s.name).join(", ")}; ` +
    `${rounds} round(s) of ${durationMs / 1000} s; loadgen on ${rt.kind}`,
);
for (const s of skipped) console.log(`  note: ${s}`);

const runs: RunRecord[] = [];
let seq = 0;
// Ctrl-C or SIGTERM: stop the broker under test (it does not notice the runner going away; the
// load generators do, their stdin closes) and leave no temp dir behind.
let current: { stop(): Promise<number> } | undefined;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    console.log(`\n${sig}: stopping`);
    await current?.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await certs.remove().catch(() => {});
    Deno.exit(130);
  });
}
for (let round = 1; round <= rounds; round++) {
  for (const sc of scenarios) {
    // Rotate the broker order each round so no broker always runs first or last.
    const order = uniqueBrokers.map((_, i) =>
      uniqueBrokers[(i + round - 1) % uniqueBrokers.length]!
    );
    for (const def of order) {
      const rec: RunRecord = {
        round,
        scenario: sc.name,
        broker: def.name,
        values: {},
        failures: [],
        notes: [],
        raw: {},
      };
      const profDir = flags["cpu-prof"] && def.kind === "culex"
        ? `${flags["cpu-prof"]}/${def.name}-${sc.name}-r${round}`
        : undefined;
      if (profDir) await Deno.mkdir(profDir, { recursive: true });
      if (def.kind === "culex") rec.code = await codeVersion();
      let broker;
      try {
        broker = await startBroker(def, {
          ...(profDir ? { cpuProfDir: profDir } : {}),
          ...(aedesDir ? { aedesDir } : {}),
          tls,
          ...(sc.culexSets ? { culexSets: sc.culexSets } : {}),
          ...(sc.culexConfig ? { culexConfig: await sc.culexConfig(work) } : {}),
        });
        current = broker;
        const out = await sc.run({
          broker,
          rt,
          durationMs,
          tag: `b${++seq}`,
          connections,
          settleMs,
          ca: certs.ca,
        });
        Object.assign(rec, { values: out.values, notes: out.notes, raw: out.raw });
        rec.failures.push(...out.failures);
      } catch (err) {
        rec.failures.push(`run failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      const crash = broker?.crashed();
      if (crash) {
        rec.failures.push(`broker ${crash}; last output: ${broker!.logTail().slice(-600)}`);
      }
      await broker?.stop();
      current = undefined;
      runs.push(rec);
      const shown = Object.entries(rec.values).map(([k, v]) => `${k}=${+v.toFixed(2)}`).join(" ");
      console.log(`[r${round}] ${sc.name} ${def.name}: ${shown}`);
      for (const n of rec.notes) console.log(`    note: ${n}`);
      for (const f of rec.failures) console.log(`    FAILED: ${oneLine(f)}`);
    }
  }
}

const codeAtEnd = await codeVersion();
if (codeAtEnd !== codeAtStart) {
  console.log(`\nWARNING: the Culex code changed during the run (${codeAtStart} -> ${codeAtEnd})`);
}
const summary = summarize(runs, scenarios, names);
console.log(
  "\nMedians (min–max) over rounds; ratio columns are median Culex / median Mosquitto.\n",
);
for (const l of table(summary, scenarios, names, culexNames)) console.log(l);

const culexN = culexNames.find((n) => n !== "culex-1") ?? culexNames[0];
const judged = culexN && names.includes("mosquitto")
  ? targets(
    summary,
    runs.filter((r) => scenarios.some((s) => s.name === r.scenario)),
    culexN,
    connections,
  )
  : [];
if (judged.length > 0) {
  console.log(`\nTargets of issues 4 and 12 (${culexN} against mosquitto in this run):`);
  for (const t of judged) {
    const mark = t.met === null ? "n/a " : t.met ? "MET " : "MISS";
    console.log(`  ${mark} ${t.target}: ${t.measured}`);
  }
}

const failOnAll = flags["fail-on"] !== "culex";
const failed = runs.filter((r) => r.failures.length > 0);
const fatal = failed.filter((r) => failOnAll || r.broker.startsWith("culex"));
await Deno.mkdir(fromFileUrl(new URL("./results/", import.meta.url)), { recursive: true });
await Deno.writeTextFile(
  outFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine,
      versions: { ...versions, culex: codeAtStart, culexAtEnd: codeAtEnd },
      params: {
        durationMs,
        rounds,
        shards,
        connections,
        settleMs,
        loadgen: rt.kind,
        brokers: names,
      },
      skipped,
      summary,
      targets: judged,
      failed: fatal.length > 0,
      runs,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nJSON: ${outFile}`);
await Deno.remove(work, { recursive: true }).catch(() => {});
await certs.remove().catch(() => {});
if (failed.length > 0) {
  console.log(`\n${fatal.length > 0 ? "FAILED" : "Failures (not counted: --fail-on culex)"}:`);
  for (const r of failed) {
    console.log(`  r${r.round} ${r.scenario} ${r.broker}: ${r.failures.map(oneLine).join("; ")}`);
  }
}
// Explicit: the signal listeners above would otherwise keep the process alive.
Deno.exit(fatal.length > 0 ? 1 : 0);
