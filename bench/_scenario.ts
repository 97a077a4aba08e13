/**
 * What a benchmark scenario is (Scenario, with its Metrics) and what one run of it gets (RunCtx)
 * and yields (RunOutcome), with the figures every run reports. scenarios.ts lists the scenarios;
 * the ones kept in their own files (sc_big.ts, sc_connections.ts) import their types from here,
 * never from scenarios.ts, which imports them (tools/check_cycles.ts keeps it so).
 *
 * @module
 */

import type { RunningBroker } from "./brokers.ts";
import type { LoadRuntime } from "./lg_proc.ts";

/** One figure a scenario reports. */
export interface Metric {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
}

/** What a scenario run gets. */
export interface RunCtx {
  broker: RunningBroker;
  rt: LoadRuntime;
  durationMs: number;
  /** Prefix for client ids, unique per run. */
  tag: string;
  /** Idle clients wanted by the connections scenario. */
  connections: number;
  /** Connections scenario: how long memory may settle after each half of the clients. */
  settleMs: number;
  /** PEM of the CA that signed the brokers' TLS certificate. */
  ca?: string;
}

/** What a scenario run yields. */
export interface RunOutcome {
  values: Record<string, number>;
  /** Lost QoS 1/2 messages, errors, crashes: any entry fails the whole bench run. */
  failures: string[];
  notes: string[];
  raw: Record<string, unknown>;
}

/** A scenario. */
export interface Scenario {
  name: string;
  title: string;
  metrics: Metric[];
  /** Extra `--set` for Culex in this scenario (the others run on the embedded defaults). */
  culexSets?: string[];
  /** Writes a Culex config file under `dir` (the bench's temp dir) and returns its path. */
  culexConfig?: (dir: string) => Promise<string>;
  run(ctx: RunCtx): Promise<RunOutcome>;
}

/** One Metric. */
export function metric(key: string, label: string, unit: string, higherIsBetter: boolean): Metric {
  return { key, label, unit, higherIsBetter };
}

/** Figures every run reports besides its own. */
export const COMMON_METRICS: Metric[] = [
  metric("brokerCpuPct", "broker CPU", "% of a core", false),
  metric("loadgenCpuPct", "loadgen CPU", "% of a core", false),
  metric("brokerPeakMiB", "broker peak RSS", "MiB", false),
];
