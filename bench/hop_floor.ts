/**
 * The floor of the cluster hop on this machine (issue 15, docs/cluster.md "The design's floor"):
 * the path of a forwarded message with the supervisor carrying the links, and no broker logic.
 * Two node processes (_hop_floor_node.ts: a main isolate that owns the sockets and one worker
 * joined to it by the project's rings and doorbells) and this process as the clients: a sender
 * connected to node A, a receiver on A and a receiver on B. A message goes sender → A's main →
 * A's worker → A's main, then either to A's receiver ("local") or over the link to B's main →
 * B's worker → B's main → B's receiver ("remote"); A's main sends the sender a 4-byte ack where a
 * broker sends the PUBACK. Variants: "remote, B's worker skipped" (B's main answers the receiver
 * itself: one wake-up fewer) and "no ack" (as QoS 0). Pacings as bench/cluster_bench.ts: paced
 * (next on the ack, 1 ms pause every 10), one at a time (next on the ack and the arrival), and
 * time-paced (`--rate` a second on a fixed schedule). Cases interleave in every round.
 *
 * `deno run -A bench/hop_floor.ts [--rounds N] [--messages N] [--rate N]`
 */

import { connect, type Socket } from "node:net";
import { FRAME, Framer, HELLO, NO_ACK, REMOTE, SKIP_B, STEPS } from "./_hop_floor_node.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i]!, Deno.args[i + 1] ?? "");
const ROUNDS = Number(args.get("--rounds") ?? 6);
const PER_ROUND = Number(args.get("--messages") ?? 500);
const RATE = Number(args.get("--rate") ?? 200);

type Pacing = "paced" | "one" | "timed";
interface Case {
  pacing: Pacing;
  flags: number;
}
const CASES: Case[] = [];
for (const pacing of ["paced", "one", "timed"] as const) {
  for (const flags of [0, REMOTE, REMOTE | SKIP_B]) CASES.push({ pacing, flags });
  if (pacing !== "paced") {
    for (const flags of [NO_ACK, REMOTE | NO_ACK]) CASES.push({ pacing, flags });
  }
}
const caseName = (c: Case) =>
  `${c.flags & REMOTE ? "remote" : "local"}${c.flags & SKIP_B ? " B's worker skipped" : ""}${
    c.flags & NO_ACK ? " no ack" : ""
  }`;

/** Starts a node process; resolves with it and its client and link ports. */
async function startNode(peer: number | null) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_hop_floor_node.ts", import.meta.url).pathname,
      ...(peer === null ? [] : ["--peer", String(peer)]),
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("hop floor node ended before it was up");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const [, clientPort, linkPort] = text.trim().split(" ").map(Number);
  return { child, clientPort: clientPort!, linkPort: linkPort! };
}

async function dial(port: number, role: "P" | "S"): Promise<Socket> {
  const s = connect({ host: "127.0.0.1", port });
  s.setNoDelay(true);
  await new Promise((r) => s.once("connect", r));
  const hello = new Uint8Array(FRAME);
  hello[0] = HELLO;
  hello[1] = role.charCodeAt(0);
  s.write(hello);
  return s;
}

const b = await startNode(null);
const a = await startNode(b.linkPort);
const sender = await dial(a.clientPort, "P");
const receivers = [await dial(a.clientPort, "S"), await dial(b.clientPort, "S")];
// Let both nodes take the hellos before the first message.
await new Promise((r) => setTimeout(r, 200));

/** Send time (performance.now(), ms) of each seq; acks and arrivals seen, with their waiters. */
const sentAt = new Map<number, number>();
let ackBytes = 0;
let acks = 0;
let arrivals = 0;
let samples: number[] = [];
/** Per message, the time (ms) from each stamped step to the next, send first, arrival last. */
let steps: number[][] = [];
let wake = () => {};
sender.on("data", (chunk: Uint8Array) => {
  ackBytes += chunk.length;
  acks = ackBytes >> 2;
  wake();
});
for (const r of receivers) {
  const framer = new Framer();
  r.on("data", (chunk: Uint8Array) =>
    framer.push(chunk, (frame) => {
      const view = new DataView(frame.buffer, frame.byteOffset);
      const seq = view.getUint32(1, true);
      const now = performance.now();
      samples.push(now - sentAt.get(seq)!);
      // The steps this message took: A's three, then B's main and (unless skipped) B's worker.
      const flags = frame[0]!;
      const taken = flags & REMOTE ? (flags & SKIP_B ? 4 : 6) : 3;
      const times = [performance.timeOrigin + sentAt.get(seq)!];
      for (let k = 0; k < taken; k++) times.push(view.getFloat64(8 + 8 * k, true));
      times.push(performance.timeOrigin + now);
      steps.push(times.slice(1).map((x, k) => x - times[k]!));
      sentAt.delete(seq);
      arrivals++;
      wake();
    }));
}
const until = (cond: () => boolean) =>
  cond() ? Promise.resolve() : new Promise<void>((resolve) => {
    wake = () => {
      if (cond()) resolve();
    };
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function send(flags: number): void {
  const frame = new Uint8Array(FRAME).fill(0x2e);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, ++seq, true);
  sentAt.set(seq, performance.now());
  sender.write(frame);
}

/** Send → arrival times (ms) of PER_ROUND messages of case `c`. */
async function measure(c: Case): Promise<number[]> {
  samples = [];
  steps = [];
  const [ack0, arr0] = [acks, arrivals];
  const withAck = (c.flags & NO_ACK) === 0;
  if (c.pacing === "timed") {
    // Message i is due at start + i / RATE; a late timer sends what is due at once.
    const start = performance.now();
    for (let i = 0; i < PER_ROUND;) {
      const due = Math.min(PER_ROUND, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
      for (; i < due; i++) send(c.flags);
      if (i < PER_ROUND) await sleep(Math.max(0, start + (i * 1000) / RATE - performance.now()));
    }
  } else {
    for (let i = 1; i <= PER_ROUND; i++) {
      send(c.flags);
      if (withAck) await until(() => acks >= ack0 + i);
      if (c.pacing === "one") await until(() => arrivals >= arr0 + i);
      if (i % 10 === 1) await sleep(1);
    }
  }
  await until(() => arrivals >= arr0 + PER_ROUND && (!withAck || acks >= ack0 + PER_ROUND));
  return samples;
}

const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const results = CASES.map(() => [] as number[]);
const stepResults = CASES.map(() => [] as number[][]);
const loadStart = loadavg();
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, c] of CASES.entries()) {
    results[i]!.push(...await measure(c));
    stepResults[i]!.push(...steps);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * p)]!;
const us = (ms: number) => (ms * 1000).toFixed(0);
console.log(
  `hop floor, ${ROUNDS} interleaved rounds of ${PER_ROUND} per case, load average ${loadStart} ` +
    `→ ${loadavg()} (µs, send → arrival):`,
);
for (const pacing of ["paced", "one", "timed"] as const) {
  const label = pacing === "one"
    ? "one at a time"
    : pacing === "timed"
    ? `time-paced ${RATE}/s`
    : pacing;
  const p50 = new Map<number, number>();
  for (const [i, c] of CASES.entries()) {
    if (c.pacing !== pacing) continue;
    const xs = results[i]!;
    p50.set(c.flags, pct(xs, 0.5));
    console.log(
      `  ${label.padEnd(18)} ${caseName(c).padEnd(28)} p50 ${us(pct(xs, 0.5)).padStart(5)} ` +
        `p99 ${us(pct(xs, 0.99)).padStart(6)}  steps p50: ` +
        stepResults[i]![0]!.map((_, k) =>
          `${
            k < STEPS.length && k < stepResults[i]![0]!.length - 1 ? "→ " + STEPS[k] : "→ client"
          } ` +
          us(pct(stepResults[i]!.map((s) => s[k]!), 0.5))
        ).join(", "),
    );
  }
  const hop = (remote: number, local: number) => us(p50.get(remote)! - p50.get(local)!);
  console.log(
    `  ${label}: hop p50 (remote − local) ${hop(REMOTE, 0)} µs; B's worker skipped ` +
      `${hop(REMOTE | SKIP_B, 0)} µs` +
      (pacing === "paced" ? "" : `; no ack ${hop(REMOTE | NO_ACK, NO_ACK)} µs`),
  );
}
for (const s of [sender, ...receivers]) s.destroy();
for (const n of [a, b]) {
  n.child.kill("SIGTERM");
  await n.child.stdout.cancel();
  await n.child.status;
}
