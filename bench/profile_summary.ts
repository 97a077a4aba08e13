/**
 * Summarizes V8 CPU profiles (the .cpuprofile files `deno run --cpu-prof` writes, one per
 * isolate: the supervisor and each shard worker): the functions with the most self time.
 *
 *   deno run --allow-read bench/profile_summary.ts DIR_OR_FILE... [--top 15]
 *
 * Self time of a node is the sum of the sampling intervals whose sample landed in it. Pure
 * reading and printing; owns nothing.
 */

import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One row of the summary. */
export interface Row {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const m = /\/work\/main\/(.*)$/.exec(url) ?? /node_modules\/\.?(.*)$/.exec(url) ??
    /(ext:.*|node:.*)$/.exec(url);
  return m?.[1] ?? url.replace(/^.*\/([^/]+\/[^/]+)$/, "$1");
}

/** Self time per function (name + location), largest first. */
export function summarize(p: CpuProfile): { rows: Row[]; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, Row>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    // A sample's time is the interval up to the next sample.
    const us = Math.max(0, deltas[i + 1] ?? 0);
    totalUs += us;
    if (!node) continue;
    const f = node.callFrame;
    const name = f.functionName || "(anonymous)";
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : "";
    const key = `${name}@${where}`;
    const row = self.get(key) ?? { name, where, selfMs: 0, pct: 0 };
    row.selfMs += us / 1000;
    self.set(key, row);
  }
  const totalMs = totalUs / 1000;
  const rows = [...self.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const r of rows) r.pct = totalMs > 0 ? (r.selfMs * 100) / totalMs : 0;
  return { rows, totalMs };
}

async function files(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await Deno.stat(p);
    if (st.isFile) out.push(p);
    else {
      for await (const e of Deno.readDir(p)) {
        if (e.isDirectory) out.push(...(await files([`${p}/${e.name}`])));
        else if (e.name.endsWith(".cpuprofile")) out.push(`${p}/${e.name}`);
      }
    }
  }
  return out.sort();
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { top: { type: "string", default: "15" } },
    allowPositionals: true,
  });
  const top = Number(values.top);
  for (const f of await files(positionals)) {
    let profile: CpuProfile;
    try {
      profile = JSON.parse(await Deno.readTextFile(f)) as CpuProfile;
    } catch {
      // A worker ended before it finished writing its profile (seen at broker shutdown).
      console.log(`\n${f}\n  empty or truncated profile, skipped`);
      continue;
    }
    const { rows, totalMs } = summarize(profile);
    const idle = rows.find((r) => r.name === "(idle)")?.selfMs ?? 0;
    console.log(
      `\n${f}\n  sampled ${(totalMs / 1000).toFixed(2)} s, busy ${
        ((totalMs - idle) / 1000).toFixed(2)
      } s (${totalMs > 0 ? ((100 * (totalMs - idle)) / totalMs).toFixed(0) : 0}%)`,
    );
    console.log("  self ms   self %  function  (location)");
    for (const r of rows.slice(0, top)) {
      const ms = r.selfMs.toFixed(0).padStart(7);
      console.log(`  ${ms}  ${r.pct.toFixed(1).padStart(6)}%  ${r.name}  ${r.where}`);
    }
  }
}
