/**
 * The big-message scenario (issue 11): one 10 MiB QoS 1 publish at a time to one subscriber,
 * timed from the publisher's write to the whole message at the subscriber. For Culex with more
 * than one shard the publisher and the subscriber are placed on different shards, so the
 * message crosses supervisor -> shard -> shard -> supervisor. Culex runs with
 * mqtt.max_packet_size raised to 256MB (MQTT's limit and Mosquitto's default) and the default
 * ipc.ring_size.
 */

import { shardOf } from "../src/ipc/partition.ts";
import { cpuSeconds, memKiB } from "./brokers.ts";
import { startAll } from "./lg_proc.ts";
import type { Metric, RunCtx, RunOutcome, Scenario } from "./_scenario.ts";

const SIZE = 10 * 1024 * 1024;
const MESSAGES = 9;

const m = (key: string, label: string, unit: string, higherIsBetter: boolean): Metric => ({
  key,
  label,
  unit,
  higherIsBetter,
});

function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}

/** `<prefix><n>` on `shard` of `shards` (Culex's placement rule, src/ipc/partition.ts). */
function idOnShard(prefix: string, shard: number, shards: number): string {
  for (let n = 0;; n++) {
    if (shardOf(`${prefix}${n}`, shards) === shard % shards) return `${prefix}${n}`;
  }
}

async function run(ctx: RunCtx): Promise<RunOutcome> {
  const shards = ctx.broker.def.shards ?? 1;
  const pubId = idOnShard(`${ctx.tag}-bp`, 0, shards);
  const subId = idOnShard(`${ctx.tag}-bs`, 1, shards);
  const pid = ctx.broker.pid;
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const [proc] = await startAll(ctx.rt, [{
    mode: "big",
    port: ctx.broker.port,
    size: SIZE,
    messages: MESSAGES,
    qos: 1,
    pubId,
    subId,
    gapMs: 200,
    timeoutMs: 30_000,
  }]);
  const r = await proc!.expect("done", MESSAGES * 31_000 + 10_000);
  await proc!.end();
  const cpuPct = (cpuSeconds(pid) - c0) * 100_000 / (performance.now() - t0);
  const failures: string[] = [];
  if (num(r.short) > 0) failures.push(`${r.short} messages arrived shorter than sent`);
  if (num(r.errors) > 0) failures.push(`connection failed: ${r.firstError}`);
  return {
    values: {
      p50: num(r.p50),
      min: num(r.min),
      max: num(r.max),
      puback50: num(r.puback50),
      brokerCpuPct: cpuPct,
      loadgenCpuPct: num(r.cpuPct),
      brokerPeakMiB: memKiB(pid).hwm / 1024,
    },
    failures,
    notes: shards > 1 ? [`publisher ${pubId} on shard 0, subscriber ${subId} on shard 1`] : [],
    raw: r,
  };
}

/** The scenario. */
export const big: Scenario = {
  name: "big-qos1",
  title: "one 10 MiB QoS 1 publish to one subscriber, publish to delivery",
  metrics: [
    m("p50", "publish to delivery, median", "ms", false),
    m("min", "publish to delivery, fastest", "ms", false),
    m("max", "publish to delivery, slowest", "ms", false),
    m("puback50", "publish to PUBACK, median", "ms", false),
  ],
  culexSets: ["mqtt.max_packet_size=256MB"],
  run,
};
