/**
 * `deno task fuzz --replay SEED:FROM-TO`: finds the fuzz connection that breaks Culex and the
 * fewest of its packets that still do. Replays connections FROM..TO of the seed one at a time on
 * a fresh broker, with fresh 3.1.1 and 5.0 clients probing every shard after each; the first
 * connection after which a probe is refused is the culprit. Then, on a fresh broker per attempt,
 * drops its packets one by one while the breakage persists, and prints what is left in hex. Owns
 * the brokers it starts (127.0.0.1 only).
 */

import { startBroker } from "./brokers.ts";
import { clientIdForShard } from "../tests/_helpers/clients.ts";
import { runPlan } from "../tests/_helpers/fuzz/flood.ts";
import { DEFAULT_GEN } from "../tests/_helpers/fuzz/gen_client.ts";
import { probe } from "../tests/_helpers/fuzz/healthy.ts";
import {
  type ConnPlan,
  describePlan,
  planConnection,
  type PlannedPacket,
} from "../tests/_helpers/fuzz/plan.ts";

const LIFE_MS = 1_000;
/** Most connections one replay walks through (a bound, and about 10 minutes at worst). */
export const MAX_REPLAY = 5_000;

/** Probes every shard with a 3.1.1 and a 5.0 client; the refusals. */
async function refusals(url: string, shards: number, round: number): Promise<string[]> {
  const out: string[] = [];
  for (let s = 0; s < shards; s++) {
    for (const v of [4, 5] as const) {
      const r = await probe(url, v, clientIdForShard(s, shards, `fzr${round}v${v}`), 3_000);
      if (!r.ok) out.push(r.error);
    }
  }
  return out;
}

/** A plan that sends these packets one per write and ends with FIN. */
function planOf(base: ConnPlan, packets: readonly PlannedPacket[]): ConnPlan {
  return {
    index: base.index,
    version: base.version,
    packets: [...packets],
    writes: packets.map((p, i) => ({
      bytes: p.bytes,
      delayMs: i === 0 ? 0 : 5,
      packetsDone: i + 1,
    })),
    awaitConnack: base.awaitConnack,
    end: "fin",
  };
}

/** Whether the plan alone, on a fresh broker, leaves fresh clients refused. */
async function breaks(plan: ConnPlan, shards: number): Promise<boolean> {
  const broker = await startBroker({ name: "culex", kind: "culex", shards }, {});
  try {
    await runPlan(broker.port, plan, LIFE_MS);
    return (await refusals(`mqtt://127.0.0.1:${broker.port}`, shards, 0)).length > 0;
  } finally {
    await broker.stop();
  }
}

/** What to replay. */
export interface ReplayOptions {
  seed: number;
  /** First and last connection index, both included. */
  from: number;
  to: number;
  shards: number;
  log: (line: string) => void;
}

/** Walks the range, then minimises the culprit. Resolves to the exit status (1: found). */
export async function replay(o: ReplayOptions): Promise<number> {
  const { seed, from, to, shards, log } = o;
  const last = Math.min(to, from + MAX_REPLAY - 1);
  log(`replaying seed ${seed} connections #${from}..#${last} on Culex with ${shards} shard(s)`);
  const broker = await startBroker({ name: "culex", kind: "culex", shards }, {});
  const url = `mqtt://127.0.0.1:${broker.port}`;
  let culprit: ConnPlan | null = null;
  try {
    const before = await refusals(url, shards, 0);
    if (before.length > 0) throw new Error(`fresh clients refused before any replay: ${before}`);
    for (let i = from; i <= last && !culprit; i++) {
      const plan = planConnection(seed, i, DEFAULT_GEN);
      await runPlan(broker.port, plan, LIFE_MS);
      const refused = await refusals(url, shards, i);
      if (refused.length > 0) {
        log(`after connection #${i}: ${refused.join("; ")}`);
        culprit = plan;
      }
    }
  } finally {
    await broker.stop();
  }
  if (!culprit) {
    log("no connection in the range broke the broker when replayed one at a time");
    return 0;
  }
  log(`culprit:\n${describePlan(culprit)}`);
  let packets = [...culprit.packets];
  if (!(await breaks(planOf(culprit, packets), shards))) {
    log("sent alone on a fresh broker (one packet per write) it does not break it: not minimised");
    return 1;
  }
  for (let j = packets.length - 1; j >= 0; j--) {
    const fewer = packets.filter((_, k) => k !== j);
    if (fewer.length > 0 && await breaks(planOf(culprit, fewer), shards)) packets = fewer;
  }
  log(`minimal sequence (${packets.length} packets, one connection, fresh broker):`);
  log(describePlan(planOf(culprit, packets)));
  return 1;
}
