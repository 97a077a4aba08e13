/**
 * Cluster figures (issue 15), measured on this machine with two real nodes (`main.ts start`,
 * 2 shards each) and npm:mqtt clients in this process:
 *
 * - fan-in QoS 1: 4 publishers on node A, one subscriber on node B, against the same with the
 *   subscriber on A (no node hop), in the same run, alternating, 3 rounds;
 * - latency: one QoS 1 publisher on A, p50/p99 of publish → receive with the subscriber on B and
 *   on A; the difference is the hop. Twice: paced (the next message goes when the PUBACK of the
 *   last is back, which with the subscriber on B is before the last message arrived there) and
 *   one at a time (the next message goes when the last arrived: nothing else is in flight, so
 *   A's work on the next message does not share the two cores with B's work on this one); and
 *   time-paced (`--rate` messages a second, 200 by default, sent on a fixed schedule whatever
 *   the PUBACKs and arrivals do, as the load generator's p2p scenario paces);
 * - route update: time from SUBACK on B until a publisher on A that publishes every 1 ms
 *   reaches it (an upper bound of the route's travel);
 * - route sync: 100,000 subscriptions on A, then B starts: time from B's link up to B routing a
 *   message to the last of them.
 *
 * `deno run -A bench/cluster_bench.ts [--messages N] [--rounds N] [--latency-rounds N] [--route-runs N]
 * [--rate N] [--only latency] [--warm-up N]`
 */

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
} from "./_cluster_nodes.ts";

const { args, number } = benchArgs();
const MESSAGES = number("--messages", 20_000);
const ROUNDS = number("--rounds", 3);
const SUBS = number("--subscriptions", 100_000);
/** Latency: rounds of A→A then A→B, messages per round and side. */
const LAT_ROUNDS = number("--latency-rounds", 8);
const LAT_PER_ROUND = 500;
/** Time-paced latency: messages a second, on a fixed schedule. */
const RATE = Number(args.get("--rate") ?? 200);
/** Route updates timed. */
const ROUTE_RUNS = number("--route-runs", 20);
/** `--only latency`: the latency section alone (a quick look at the hop). */
const ONLY_LATENCY = args.get("--only") === "latency";
/**
 * `--warm-up N`: with `--only latency`, N QoS 1 messages A→A and A→B (one fan-in each way, not
 * reported) before the latency rounds. The full bench's fan-in rounds do this anyway: without it
 * the latency rounds run partly on code V8 has not optimised yet, and read higher than a broker
 * that has been carrying traffic (bench/README.md, "Cluster").
 */
const WARM_UP = number("--warm-up", 0);
async function fanIn(
  pubPort: number,
  subPort: number,
  tag: string,
  messages = MESSAGES,
): Promise<number> {
  const topic = `bench/${tag}`;
  const sub = await client(subPort, `s-${tag}`);
  await sub.subscribeAsync(topic, { qos: 1 });
  const pubs = await Promise.all([0, 1, 2, 3].map((i) => client(pubPort, `p${i}-${tag}`)));
  // The route reaches A: probe until one arrives.
  let got = 0;
  let probed = false;
  sub.on("message", (_t, payload) => {
    if (payload.length === 5 && new TextDecoder().decode(payload) === "probe") probed = true;
    else got++;
  });
  for (let i = 0; i < 1000 && !probed; i++) {
    await pubs[0]!.publishAsync(topic, "probe", { qos: 0 });
    await new Promise((r) => setTimeout(r, 5));
  }
  const per = Math.floor(messages / pubs.length);
  const payload = new Uint8Array(64);
  const start = performance.now();
  await publishEach(pubs, topic, payload, per);
  await until(() => got >= per * pubs.length, 120_000);
  const rate = (per * pubs.length) / ((performance.now() - start) / 1000);
  await Promise.all([sub, ...pubs].map((c) => c.endAsync()));
  return rate;
}

/**
 * How the latency run sends: `paced` by the PUBACK (and 1 ms every 10 messages), `one` at a time
 * (each sent once the last one arrived), or `timed` (RATE a second on a fixed schedule, whatever
 * the PUBACKs and arrivals do).
 */
type Pacing = "paced" | "one" | "timed";

/** Publish → receive times (ms) of `count` QoS 1 messages, publisher on pubPort. */
async function latency(
  pubPort: number,
  subPort: number,
  tag: string,
  count: number,
  pacing: Pacing = "paced",
): Promise<number[]> {
  const topic = `lat/${tag}`;
  const sub = await client(subPort, `ls-${tag}`);
  await sub.subscribeAsync(topic, { qos: 1 });
  const pub = await client(pubPort, `lp-${tag}`);
  const samples: number[] = [];
  let probed = false;
  let arrived = () => {};
  sub.on("message", (_t, payload) => {
    const text = new TextDecoder().decode(payload);
    if (text === "probe") probed = true;
    else {
      samples.push(performance.now() - Number(text));
      arrived();
    }
  });
  for (let i = 0; i < 1000 && !probed; i++) {
    await pub.publishAsync(topic, "probe", { qos: 0 });
    await new Promise((r) => setTimeout(r, 5));
  }
  if (pacing === "timed") {
    // Message i is due at start + i / RATE; a late timer sends what is due at once (the sample
    // is taken when it is sent, so a late timer does not count as latency).
    const start = performance.now();
    for (let i = 0; i < count;) {
      const now = performance.now();
      const due = Math.min(count, Math.floor(((now - start) * RATE) / 1000) + 1);
      for (; i < due; i++) pub.publish(topic, String(performance.now()), { qos: 1 });
      if (i < count) {
        const next = start + (i * 1000) / RATE;
        await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      }
    }
  } else {
    for (let i = 0; i < count; i++) {
      await pub.publishAsync(topic, String(performance.now()), { qos: 1 });
      if (pacing === "one" && samples.length <= i) {
        await new Promise<void>((resolve) => (arrived = resolve));
      }
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  }
  await until(() => samples.length >= count, 30_000);
  await Promise.all([sub, pub].map((c) => c.endAsync()));
  return samples;
}

async function routeUpdate(a: Node, b: Node): Promise<number[]> {
  const out: number[] = [];
  const pub = await client(a.mqttPort, "ru-pub");
  const sub = await client(b.mqttPort, "ru-sub");
  for (let i = 0; i < ROUTE_RUNS; i++) {
    const topic = `ru/${i}`;
    let arrived = 0;
    const onMessage = (t: string) => {
      if (t === topic && arrived === 0) arrived = performance.now();
    };
    sub.on("message", onMessage);
    let publishing = true;
    const loop = (async () => {
      while (publishing) {
        pub.publish(topic, "x", { qos: 0 });
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const subacked = performance.now();
    await sub.subscribeAsync(topic, { qos: 0 });
    await until(() => arrived > 0, 10_000);
    publishing = false;
    await loop;
    sub.off("message", onMessage);
    out.push(arrived - subacked);
    await sub.unsubscribeAsync(topic);
  }
  await Promise.all([sub, pub].map((c) => c.endAsync()));
  return out;
}

async function routeSync(): Promise<number> {
  const [pa, pb] = [freePort(), freePort()];
  const a = await startNode("sa", pa, []);
  const sub = await client(a.mqttPort, "many");
  for (let i = 0; i < SUBS; i += 1000) {
    const filters: Record<string, { qos: 0 }> = {};
    for (let k = i; k < i + 1000 && k < SUBS; k++) filters[`many/${k}/+`] = { qos: 0 };
    await sub.subscribeAsync(filters);
  }
  const b = await startNode("sb", pb, [`sa@127.0.0.1:${pa}`]);
  const done = /full route set of sa@127.0.0.1 received: (\d+) routes in ([\d.]+) ms/;
  await until(() => b.logs.some((l) => done.test(l)), 120_000);
  const m = b.logs.map((l) => done.exec(l)).find((x) => x !== null)!;
  if (Number(m[1]) !== SUBS) throw new Error(`B got ${m[1]} routes of ${SUBS}`);
  await sub.endAsync();
  for (const n of [a, b]) await stopNode(n);
  return Number(m[2]);
}

/** [p50, p99] of `xs` (ms). */
function percentiles(xs: number[]): [number, number] {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(s.length / 2)]!, s[Math.floor(s.length * 0.99)]!];
}

const [ca, cb] = [freePort(), freePort()];
const a = await startNode("a", ca, [`b@127.0.0.1:${cb}`]);
const b = await startNode("b", cb, [`a@127.0.0.1:${ca}`]);
await until(() => a.logs.some((l) => l.includes("is up")), 30_000);
const local: number[] = [];
const remote: number[] = [];
for (let r = 0; r < (ONLY_LATENCY ? 0 : ROUNDS); r++) {
  local.push(await fanIn(a.mqttPort, a.mqttPort, `l${r}`));
  remote.push(await fanIn(a.mqttPort, b.mqttPort, `r${r}`));
}
if (ONLY_LATENCY && WARM_UP > 0) {
  await fanIn(a.mqttPort, a.mqttPort, "wl", WARM_UP);
  await fanIn(a.mqttPort, b.mqttPort, "wr", WARM_UP);
}
// Latency interleaved, A→A then A→B in each round, paced then one at a time, fresh client ids and
// topic each time (the shards a client and a topic land on change from round to round, on both
// sides alike).
const latL: number[] = [];
const latR: number[] = [];
const oneL: number[] = [];
const oneR: number[] = [];
const timedL: number[] = [];
const timedR: number[] = [];
for (let r = 0; r < LAT_ROUNDS; r++) {
  latL.push(...await latency(a.mqttPort, a.mqttPort, `l${r}`, LAT_PER_ROUND));
  latR.push(...await latency(a.mqttPort, b.mqttPort, `r${r}`, LAT_PER_ROUND));
  oneL.push(...await latency(a.mqttPort, a.mqttPort, `ol${r}`, LAT_PER_ROUND, "one"));
  oneR.push(...await latency(a.mqttPort, b.mqttPort, `or${r}`, LAT_PER_ROUND, "one"));
  timedL.push(...await latency(a.mqttPort, a.mqttPort, `tl${r}`, LAT_PER_ROUND, "timed"));
  timedR.push(...await latency(a.mqttPort, b.mqttPort, `tr${r}`, LAT_PER_ROUND, "timed"));
}
const routes = ONLY_LATENCY ? [] : await routeUpdate(a, b);
for (const n of [a, b]) await stopNode(n);
const sync = ONLY_LATENCY ? 0 : await routeSync();
const fmt = (n: number) => n.toFixed(0);
if (!ONLY_LATENCY) {
  console.log(
    `fan-in QoS 1, ${MESSAGES} messages, 4 publishers on A (msg/s, median of ${ROUNDS}):`,
  );
  console.log(`  subscriber on A: ${fmt(median(local))}  [${local.map(fmt).join(", ")}]`);
  console.log(`  subscriber on B: ${fmt(median(remote))}  [${remote.map(fmt).join(", ")}]`);
  console.log(`  ratio B/A: ${(median(remote) / median(local)).toFixed(2)}`);
}
for (
  const [how, l, r] of [
    ["paced", latL, latR],
    ["one at a time", oneL, oneR],
    [`time-paced ${RATE}/s`, timedL, timedR],
  ] as const
) {
  const [localP, remoteP] = [percentiles(l), percentiles(r)];
  console.log(
    `latency QoS 1 ${how}, ${LAT_ROUNDS} interleaved rounds of ${LAT_PER_ROUND} (ms): ` +
      `A→A p50 ${localP[0].toFixed(2)} p99 ${localP[1].toFixed(2)}; ` +
      `A→B p50 ${remoteP[0].toFixed(2)} p99 ${remoteP[1].toFixed(2)}; hop p50 ` +
      `${((remoteP[0] - localP[0]) * 1000).toFixed(0)} µs`,
  );
}
if (!ONLY_LATENCY) {
  console.log(
    `route update, SUBSCRIBE sent on B → first message from A (ms, ${ROUTE_RUNS} runs): median ` +
      `${median(routes).toFixed(1)}, max ${Math.max(...routes).toFixed(1)}  ` +
      `[${routes.map((x) => x.toFixed(1)).join(", ")}]`,
  );
  console.log(
    `route sync: ${SUBS} subscriptions on A reach a joining B in ${
      sync.toFixed(0)
    } ms (RoutesReset → RoutesEnd, B's log)`,
  );
}
