/**
 * The benchmark scenarios of issue 4: what each one asks of the load generator, how long, and
 * which figures and failures it yields. A scenario runs against one already started broker;
 * the runner starts a fresh broker for every scenario run. The connections scenario lives in
 * sc_connections.ts, the big-message one in sc_big.ts; what a scenario is, in _scenario.ts.
 */

import { cpuSeconds, memKiB } from "./brokers.ts";
import type { FloodSpec } from "./lg_flood.ts";
import { type LoadProc, startAll } from "./lg_proc.ts";
import { runConnections } from "./sc_connections.ts";
import { big } from "./sc_big.ts";
import { sampleAcl } from "./_acl_rules.ts";
import { metric as m, type RunCtx, type Scenario } from "./_scenario.ts";

const RATE = m("rate", "delivered", "msg/s", true);
const LOSS = m("loss", "QoS>0 loss", "msgs", false);

/**
 * Samples the broker's CPU, and the load generator's as /proc sees it (a cross-check of its own
 * report), over the timed window while `work` runs.
 */
async function timed<T>(
  ctx: RunCtx,
  proc: LoadProc,
  work: Promise<T>,
): Promise<{ result: T; cpuPct: number; lgProcPct: number }> {
  const pid = ctx.broker.pid;
  const c0 = cpuSeconds(pid);
  const l0 = cpuSeconds(proc.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ctx.durationMs));
  const ms = performance.now() - t0;
  const cpuPct = (cpuSeconds(pid) - c0) * 100_000 / ms;
  const lgProcPct = (cpuSeconds(proc.pid) - l0) * 100_000 / ms;
  return { result: await work, cpuPct, lgProcPct };
}

function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}

function checks(r: Record<string, unknown>, failures: string[]): void {
  if (num(r.loss) > 0) failures.push(`lost ${r.loss} acknowledged QoS 1/2 messages`);
  if (num(r.unacked) > 0) failures.push(`${r.unacked} messages never acknowledged`);
  if (num(r.outOfOrder) > 0) {
    failures.push(`${r.outOfOrder} deliveries duplicated or out of order (MQTT 4.6)`);
  }
  if (r.stalled === true) failures.push("no progress for 5 s (stalled)");
  if (num(r.errors) > 0) failures.push(`${r.errors} connections failed: ${r.firstError}`);
}

function flood(
  name: string,
  title: string,
  shape: Omit<FloodSpec, "mode" | "port" | "durationMs" | "idPrefix" | "maxMessages" | "transport">,
  kind: "tcp" | "tls" | "ws" = "tcp",
): Scenario {
  return {
    name,
    title,
    metrics: shape.qos > 0 ? [RATE, LOSS] : [RATE],
    async run(ctx) {
      const b = ctx.broker;
      const port = kind === "tls" ? b.tlsPort : kind === "ws" ? b.wsPort : b.port;
      if (port === undefined) {
        return { values: {}, failures: [], notes: [`no ${kind} listener here`], raw: {} };
      }
      const spec: FloodSpec = {
        mode: "flood",
        port,
        durationMs: ctx.durationMs,
        idPrefix: ctx.tag,
        maxMessages: 0,
        ...shape,
        ...(kind === "tcp" ? {} : { transport: { kind, ...(ctx.ca ? { ca: ctx.ca } : {}) } }),
      };
      const [proc] = await startAll(ctx.rt, [spec]);
      const { result: r, cpuPct, lgProcPct } = await timed(
        ctx,
        proc!,
        proc!.expect("done", ctx.durationMs + 60_000),
      );
      await proc!.end();
      const failures: string[] = [];
      checks(r, failures);
      const notes = num(r.dropped) > 0 ? [`QoS 0 dropped ${r.dropped}`] : [];
      return {
        values: {
          rate: num(r.windowReceived) * 1000 / num(r.windowMs),
          loss: num(r.loss),
          brokerCpuPct: cpuPct,
          loadgenCpuPct: num(r.cpuPct),
          brokerPeakMiB: memKiB(ctx.broker.pid).hwm / 1024,
        },
        failures,
        notes,
        raw: { ...r, loadgenCpuPctProc: lgProcPct },
      };
    },
  };
}

const P2P_PAIRS = 200;
const P2P_RATE = 5_000;

/**
 * Point-to-point latency. "tick" sends what is due every 1 ms (about 5 messages at once);
 * "even" (issue 11) sends one message every 200 µs, round robin over the publishers, as
 * ../shared/loadgen's p2p-q1 does, and uses its window of 20.
 */
const p2p = (name: string, pacing: "tick" | "even"): Scenario => ({
  name,
  title: `point-to-point QoS 1, ${P2P_PAIRS} pairs, ${P2P_RATE} msg/s in total` +
    (pacing === "even" ? `, one message every ${1e6 / P2P_RATE} µs` : ""),
  metrics: [
    m("p50", "latency p50", "ms", false),
    m("p99", "latency p99", "ms", false),
    m("max", "latency max", "ms", false),
    LOSS,
  ],
  async run(ctx) {
    const [proc] = await startAll(ctx.rt, [{
      mode: "p2p",
      port: ctx.broker.port,
      pairs: P2P_PAIRS,
      rate: P2P_RATE,
      qos: 1,
      payload: 64,
      window: pacing === "even" ? 20 : 32,
      durationMs: ctx.durationMs,
      warmupMs: Math.min(1000, ctx.durationMs / 5),
      idPrefix: ctx.tag,
      pacing,
    }]);
    const { result: r, cpuPct, lgProcPct } = await timed(
      ctx,
      proc!,
      proc!.expect("done", ctx.durationMs + 60_000),
    );
    await proc!.end();
    const failures: string[] = [];
    checks(r, failures);
    const notes = num(r.skipped) > 0 ? [`${r.skipped} sends skipped (window full)`] : [];
    return {
      values: {
        p50: num(r.p50),
        p99: num(r.p99),
        max: num(r.max),
        loss: num(r.loss),
        brokerCpuPct: cpuPct,
        loadgenCpuPct: num(r.cpuPct),
        brokerPeakMiB: memKiB(ctx.broker.pid).hwm / 1024,
      },
      failures,
      notes,
      raw: { ...r, loadgenCpuPctProc: lgProcPct },
    };
  },
});

const RETAINED_TOPICS = 10_000;

const retained: Scenario = {
  name: "retained",
  title: `${RETAINED_TOPICS} retained topics, then a "#" subscriber`,
  metrics: [
    m("deliverMs", "all retained received", "ms", false),
    m("storeMs", `${RETAINED_TOPICS} retained stored (QoS 1)`, "ms", false),
  ],
  async run(ctx) {
    const pid = ctx.broker.pid;
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const [proc] = await startAll(ctx.rt, [{
      mode: "retained",
      port: ctx.broker.port,
      topics: RETAINED_TOPICS,
      payload: 64,
      window: 32,
      timeoutMs: 30_000,
      idPrefix: ctx.tag,
    }]);
    const r = await proc!.expect("done", 90_000);
    await proc!.end();
    const cpuPct = (cpuSeconds(pid) - c0) * 100_000 / (performance.now() - t0);
    const failures: string[] = [];
    if (r.complete !== true) failures.push(`received ${r.received} of ${RETAINED_TOPICS} retained`);
    if (num(r.errors) > 0) failures.push(`connection failed: ${r.firstError}`);
    return {
      values: {
        deliverMs: num(r.deliverMs),
        storeMs: num(r.storeMs),
        brokerCpuPct: cpuPct,
        loadgenCpuPct: num(r.cpuPct),
        brokerPeakMiB: memKiB(pid).hwm / 1024,
      },
      failures,
      notes: [],
      raw: r,
    };
  },
};

/** The fan-in shapes: 50 publishers of 64 B under bench/fanin/ into one bench/# subscriber. */
type FloodShape = Parameters<typeof flood>[2];
export const FANIN_QOS0: FloodShape = {
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
const FANIN_QOS1: FloodShape = { ...FANIN_QOS0, qos: 1, lag: 800 };

/** Every scenario, in the order they run. */
export const SCENARIOS: Scenario[] = [
  flood("fanin-qos0", "fan-in QoS 0, 50 publishers -> 1 bench/# subscriber, 64 B", FANIN_QOS0),
  // Issue 12: the same fan-in over TLS and over WebSocket (every client on that transport).
  flood(
    "fanin-qos0-tls",
    "fan-in QoS 0 over TLS, 50 publishers -> 1 subscriber, 64 B",
    FANIN_QOS0,
    "tls",
  ),
  flood(
    "fanin-qos0-ws",
    "fan-in QoS 0 over WebSocket, 50 publishers -> 1 subscriber, 64 B",
    FANIN_QOS0,
    "ws",
  ),
  flood(
    "fanin-qos1",
    "fan-in QoS 1, 50 publishers (window 32) -> 1 bench/# subscriber",
    FANIN_QOS1,
  ),
  // Issue 12: the same fan-in QoS 1 with an ACL of 1,000 file rules (Culex only; the cache on,
  // EMQX's default). Compare with fanin-qos1 in the same run: the target is at most 10% less.
  {
    ...flood(
      "fanin-qos1-acl",
      "fan-in QoS 1 as above, Culex with a 1,000-rule acl.conf",
      FANIN_QOS1,
    ),
    culexConfig: async (dir: string) => {
      const acl = `${dir}/acl_1000.conf`;
      await Deno.writeTextFile(acl, sampleAcl(1000));
      const config = `${dir}/culex_acl.yaml`;
      await Deno.writeTextFile(
        config,
        `authorization:\n  no_match: deny\n  sources:\n    - { type: file, path: "${acl}" }\n`,
      );
      return config;
    },
  },
  // Issue 13: fan-in QoS 1 into one persistent subscriber (clean session 0), in memory mode and
  // with durable sessions (sync normal, full). Durable mode is Culex's: run these with
  // `--brokers culex-1,culex-N` (the others would run the memory shape three times).
  ...([null, "normal", "full"] as const).map((sync) => ({
    ...flood(
      sync ? `fanin-qos1-durable-${sync}` : "fanin-qos1-persistent",
      sync
        ? `fan-in QoS 1 -> 1 persistent subscriber, durable sessions, sync ${sync}`
        : "fan-in QoS 1 -> 1 persistent subscriber, memory mode",
      { ...FANIN_QOS1, persistentSubs: true },
    ),
    ...(sync
      ? { culexSets: ["durable_sessions.enable=true", `durable_sessions.sync=${sync}`] }
      : {}),
  })),
  flood("fanout-qos0", "fan-out QoS 0, 1 publisher -> 500 subscribers of one topic", {
    pubs: 1,
    subs: 500,
    qos: 0,
    topic: "bench/fanout",
    sameTopic: true,
    filter: "bench/fanout",
    payload: 64,
    window: 32,
    lag: 200,
  }),
  p2p("p2p-qos1", "tick"),
  p2p("p2p-qos1-paced", "even"),
  flood("fanin-qos2", "QoS 2, 20 publishers (window 32) -> 1 bench/# subscriber", {
    pubs: 20,
    subs: 1,
    qos: 2,
    topic: "bench/qos2",
    sameTopic: false,
    filter: "bench/#",
    payload: 64,
    window: 32,
    lag: 800,
  }),
  {
    name: "connections",
    title: "idle clients: connect rate and broker memory per connection",
    metrics: [
      m("connRate", "connect rate", "conn/s", true),
      m("kibPerConnSettled", "RSS per added connection, settled", "KiB", false),
      m("kibPerConn", "RSS growth per connection, 2 s after", "KiB", false),
      m("clients", "clients connected", "", true),
    ],
    run: (ctx) => runConnections(ctx),
  },
  retained,
  big,
];
