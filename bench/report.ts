/**
 * Bench report: medians and min–max per broker and scenario figure, the Culex/Mosquitto ratios,
 * the issue 4 targets judged on the Culex N-shard medians, as a text table and as JSON. Pure:
 * the runner does the printing and the file writing.
 */

import { COMMON_METRICS, type Metric, type Scenario } from "./_scenario.ts";

/** One scenario run against one broker in one round. */
export interface RunRecord {
  round: number;
  scenario: string;
  broker: string;
  /** Culex runs: the commit under test when the broker started. */
  code?: string;
  values: Record<string, number>;
  failures: string[];
  notes: string[];
  raw: Record<string, unknown>;
}

/** Median, min and max of the rounds. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** stat() of every figure: summary[scenario][metric][broker]. */
export type Summary = Record<string, Record<string, Record<string, Stat>>>;

/** Median (mean of the middle two for an even count), min and max, NaN ignored. */
export function stat(xs: number[]): Stat {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Aggregates the runs per scenario, metric and broker. */
export function summarize(runs: RunRecord[], scenarios: Scenario[], brokers: string[]): Summary {
  const out: Summary = {};
  for (const sc of scenarios) {
    const per: Record<string, Record<string, Stat>> = {};
    for (const metric of [...sc.metrics, ...COMMON_METRICS]) {
      per[metric.key] = {};
      for (const b of brokers) {
        const xs = runs.filter((r) => r.scenario === sc.name && r.broker === b)
          .map((r) => r.values[metric.key] ?? NaN);
        per[metric.key]![b] = stat(xs);
      }
    }
    out[sc.name] = per;
  }
  return out;
}

/** Compact number: 212k, 12.3k, 345, 12.3, 1.23. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 100_000) return `${Math.round(x / 1000)}k`;
  if (a >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (a >= 100) return String(Math.round(x));
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cell(s: Stat | undefined): string {
  if (!s || s.n === 0) return "–";
  return s.n === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function ratio(a: Stat | undefined, b: Stat | undefined): string {
  if (!a || !b || !Number.isFinite(a.median) || !Number.isFinite(b.median) || b.median === 0) {
    return "–";
  }
  return `${(a.median / b.median).toFixed(2)}×`;
}

/** The side-by-side table as text lines. */
export function table(
  summary: Summary,
  scenarios: Scenario[],
  brokers: string[],
  culexNames: string[],
): string[] {
  const withMosq = brokers.includes("mosquitto");
  const head = [
    "scenario / figure",
    ...brokers,
    ...(withMosq ? culexNames.map((c) => `${c}/mosq`) : []),
  ];
  const rows: string[][] = [];
  for (const sc of scenarios) {
    rows.push([`${sc.name}: ${sc.title}`]);
    for (const metric of [...sc.metrics, ...COMMON_METRICS] as Metric[]) {
      const per = summary[sc.name]?.[metric.key] ?? {};
      if (brokers.every((b) => (per[b]?.n ?? 0) === 0)) continue;
      const label = `  ${metric.label}${metric.unit ? ` [${metric.unit}]` : ""}`;
      const ratios = withMosq ? culexNames.map((c) => ratio(per[c], per.mosquitto)) : [];
      rows.push([label, ...brokers.map((b) => cell(per[b])), ...ratios]);
    }
  }
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => r[i]?.length ?? 0))
  );
  const line = (r: string[]) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i]!)).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of rows) out.push(r.length === 1 ? r[0]! : line(r));
  return out;
}

/** One issue 4 target and whether the run met it. */
export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Judges issue 4's targets on culex (N shards) against mosquitto in the same run. */
export function targets(
  summary: Summary,
  runs: RunRecord[],
  culex: string,
  wantedConnections: number,
): Target[] {
  const med = (sc: string, key: string, b: string) => summary[sc]?.[key]?.[b]?.median ?? NaN;
  const out: Target[] = [];
  for (const sc of ["fanin-qos0", "fanin-qos1"]) {
    const c = med(sc, "rate", culex);
    const q = med(sc, "rate", "mosquitto");
    const r = c / q;
    out.push({
      target: `${sc}: ${culex} >= 0.5 x mosquitto`,
      measured: `${fmt(c)} vs ${fmt(q)} msg/s = ${Number.isFinite(r) ? r.toFixed(2) : "–"}×`,
      met: Number.isFinite(r) ? r >= 0.5 : null,
    });
  }
  // Issue 12: TLS and WebSocket fan-in within 0.5x of Culex's own TCP figure of the same run,
  // and side by side with Mosquitto's TLS / WebSocket listener (informational).
  for (const sc of ["fanin-qos0-tls", "fanin-qos0-ws"]) {
    const c = med(sc, "rate", culex);
    const own = med("fanin-qos0", "rate", culex);
    const q = med(sc, "rate", "mosquitto");
    if (!Number.isFinite(c)) continue;
    const r = c / own;
    out.push({
      target: `${sc}: ${culex} >= 0.5 x its own fanin-qos0`,
      measured: `${fmt(c)} vs ${fmt(own)} msg/s = ${Number.isFinite(r) ? r.toFixed(2) : "–"}×`,
      met: Number.isFinite(r) ? r >= 0.5 : null,
    });
    out.push({
      target: `${sc}: ${culex} against mosquitto on the same transport`,
      measured: `${fmt(c)} vs ${fmt(q)} msg/s = ${
        Number.isFinite(c / q) ? (c / q).toFixed(2) : "–"
      }×`,
      met: null,
    });
  }
  const p99 = med("p2p-qos1", "p99", culex);
  out.push({
    target: `p2p-qos1: ${culex} p99 < 2 ms at 5,000 msg/s`,
    measured: `${fmt(p99)} ms`,
    met: Number.isFinite(p99) ? p99 < 2 : null,
  });
  // Issue 11's efficiency targets, on the evenly paced p2p run.
  const pacedC = med("p2p-qos1-paced", "p50", culex);
  const pacedQ = med("p2p-qos1-paced", "p50", "mosquitto");
  out.push({
    target: `p2p-qos1-paced (issue 11): ${culex} p50 <= 2.5 x mosquitto`,
    measured: `${fmt(pacedC)} vs ${fmt(pacedQ)} ms = ${(pacedC / pacedQ).toFixed(2)}×`,
    met: Number.isFinite(pacedC / pacedQ) ? pacedC / pacedQ <= 2.5 : null,
  });
  const pacedP99 = med("p2p-qos1-paced", "p99", culex);
  out.push({
    target: `p2p-qos1-paced (issue 11): ${culex} p99 < 1.5 ms`,
    measured: `${fmt(pacedP99)} ms`,
    met: Number.isFinite(pacedP99) ? pacedP99 < 1.5 : null,
  });
  const pacedCpu = med("p2p-qos1-paced", "brokerCpuPct", culex);
  out.push({
    target: `p2p-qos1-paced (issue 11): ${culex} broker CPU <= 45% of a core`,
    measured: `${fmt(pacedCpu)}% vs ${fmt(med("p2p-qos1-paced", "brokerCpuPct", "mosquitto"))}%`,
    met: Number.isFinite(pacedCpu) ? pacedCpu <= 45 : null,
  });
  const bigC = med("big-qos1", "p50", culex);
  const bigQ = med("big-qos1", "p50", "mosquitto");
  out.push({
    target: `big-qos1 (issue 11): ${culex} 10 MiB publish to delivery <= 1.2 x mosquitto`,
    measured: `${fmt(bigC)} vs ${fmt(bigQ)} ms = ${(bigC / bigQ).toFixed(2)}×`,
    met: Number.isFinite(bigC / bigQ) ? bigC / bigQ <= 1.2 : null,
  });
  const kib = med("connections", "kibPerConnSettled", culex);
  out.push({
    target: `connections: ${culex} <= 4 KiB per idle connection (settled)`,
    measured: `${fmt(kib)} KiB`,
    met: Number.isFinite(kib) ? kib <= 4 : null,
  });
  const connRuns = runs.filter((r) => r.scenario === "connections" && r.broker === culex);
  const measured = connRuns.map((r) => r.values.clients).filter((c) => c !== undefined);
  const minClients = measured.length > 0 ? Math.min(...measured) : 0;
  const connFailed = connRuns.some((r) => r.failures.length > 0);
  const capped = connRuns.some((r) => r.notes.some((n) => n.includes("capped")));
  const reached = minClients >= wantedConnections;
  out.push({
    target: `connections: ${culex} accepts ${wantedConnections} with no error`,
    measured: connRuns.length === 0
      ? "not run"
      : `${minClients} connected, ${connFailed ? "with errors" : "no error"}` +
        (capped && !reached ? "; more do not fit under the open-file limit here" : ""),
    met: connRuns.length === 0 || (!connFailed && !reached && capped)
      ? null
      : !connFailed && reached,
  });
  const culexFailures = runs.filter((r) => r.broker.startsWith("culex") && r.failures.length > 0);
  out.push({
    target: "no crash, no QoS 1/2 loss (every Culex run)",
    measured: culexFailures.length === 0
      ? "none"
      : culexFailures.map((r) => `${r.broker} ${r.scenario}: ${r.failures.join("; ")}`).join(
        " | ",
      ),
    met: culexFailures.length === 0,
  });
  return out;
}
