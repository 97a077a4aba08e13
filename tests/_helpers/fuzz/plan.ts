/**
 * Fuzz helper: what one fuzz connection does, decided from (seed, connection index) alone. A
 * plan holds the protocol level, the packets (a CONNECT that is valid, mutated or missing, then
 * valid, mutated and corpus packets of every type, server-only and reserved ones included), how
 * they are cut into writes (one packet per write, several pipelined in one write, or the whole
 * stream split at arbitrary bytes, with pauses between writes), and how the connection ends.
 * Pure: planConnection(seed, i) gives the same bytes on every call.
 */

import {
  cleanDisconnect,
  genAck,
  genAuth,
  genConnect,
  genDisconnect,
  type GenOptions,
  genPingreq,
  genPublish,
  genSubscribe,
  genUnsubscribe,
} from "./gen_client.ts";
import {
  CORPUS,
  genConnack,
  genPingresp,
  genReserved,
  genSuback,
  genUnsuback,
} from "./gen_other.ts";
import { mutate } from "./mutate.ts";
import { Rng } from "./prng.ts";
import { encode, hex, type Model, T, type Version } from "./wire.ts";

/** One packet of a plan. */
export interface PlannedPacket {
  bytes: Uint8Array;
  /** e.g. "PUBLISH q1 v5", "SUBSCRIBE v4 +badUtf8+lenLong", "corpus: #10 ...". */
  name: string;
}

/** One write on the socket. */
export interface PlannedWrite {
  bytes: Uint8Array;
  /** Pause before this write (0: right after the previous one). */
  delayMs: number;
  /** Packets whose last byte is in this write or an earlier one. */
  packetsDone: number;
}

/**
 * How a fuzz connection ends once its writes are done: a clean DISCONNECT (the last packet) then
 * FIN, FIN alone, RST, or waiting (bounded) for the broker to close.
 */
export type PlanEnd = "disconnect" | "fin" | "rst" | "linger";

/** Everything one fuzz connection does. */
export interface ConnPlan {
  index: number;
  version: Version;
  packets: PlannedPacket[];
  writes: PlannedWrite[];
  /** Wait (bounded) for the broker's first bytes after the first write, as clients do. */
  awaitConnack: boolean;
  end: PlanEnd;
}

/** Bounds of a plan. */
export interface PlanLimits {
  /** Mean packets per connection after the CONNECT. */
  meanPackets: number;
  /** Most packets per connection after the CONNECT. */
  maxPackets: number;
}

/** Defaults: about 7 packets a connection, at most 24. */
export const DEFAULT_LIMITS: PlanLimits = { meanPackets: 6, maxPackets: 24 };

type Kind =
  | "publish"
  | "puback"
  | "pubrec"
  | "pubrel"
  | "pubcomp"
  | "subscribe"
  | "unsubscribe"
  | "pingreq"
  | "disconnect"
  | "auth"
  | "connect"
  | "connack"
  | "suback"
  | "unsuback"
  | "pingresp"
  | "reserved";

const KINDS: readonly (readonly [Kind, number])[] = [
  ["publish", 30],
  ["puback", 5],
  ["pubrec", 4],
  ["pubrel", 4],
  ["pubcomp", 4],
  ["subscribe", 10],
  ["unsubscribe", 6],
  ["pingreq", 6],
  ["disconnect", 4],
  ["auth", 3],
  ["connect", 3],
  ["connack", 2],
  ["suback", 2],
  ["unsuback", 2],
  ["pingresp", 2],
  ["reserved", 2],
];

/** A valid packet of the given kind (AUTH on 3.1.1 becomes a reserved type 15 or 0). */
function generate(rng: Rng, v: Version, o: GenOptions, kind: Kind): Model {
  switch (kind) {
    case "publish":
      return genPublish(rng, v, o);
    case "puback":
      return genAck(rng, v, T.PUBACK);
    case "pubrec":
      return genAck(rng, v, T.PUBREC);
    case "pubrel":
      return genAck(rng, v, T.PUBREL);
    case "pubcomp":
      return genAck(rng, v, T.PUBCOMP);
    case "subscribe":
      return genSubscribe(rng, v, o);
    case "unsubscribe":
      return genUnsubscribe(rng, v, o);
    case "pingreq":
      return genPingreq(v);
    case "disconnect":
      return genDisconnect(rng, v);
    case "auth":
      return v === 5 ? genAuth(rng) : genReserved(rng, v);
    case "connect":
      return genConnect(rng, v, o);
    case "connack":
      return genConnack(rng, v);
    case "suback":
      return genSuback(rng, v);
    case "unsuback":
      return genUnsuback(rng, v);
    case "pingresp":
      return genPingresp(v);
    case "reserved":
      return genReserved(rng, v);
  }
}

/** A valid (pValid) or mutated packet of a random kind. */
function onePacket(rng: Rng, v: Version, o: GenOptions, pValid: number): PlannedPacket {
  const m = generate(rng, v, o, rng.weighted(KINDS));
  if (rng.chance(pValid)) return { bytes: encode(m), name: m.name };
  return mutate(rng, m, o);
}

function writesOf(rng: Rng, packets: readonly PlannedPacket[]): PlannedWrite[] {
  const ends: number[] = [];
  let total = 0;
  for (const p of packets) ends.push(total += p.bytes.length);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of packets) {
    all.set(p.bytes, off);
    off += p.bytes.length;
  }
  // Cut points: packet boundaries (one per write or pipelined groups) or arbitrary bytes.
  const mode = rng.weighted([["each", 45], ["pipelined", 35], ["split", 20]] as const);
  const cuts = new Set<number>();
  if (mode === "each") { for (const e of ends) cuts.add(e); }
  else if (mode === "pipelined") {
    for (const e of ends) {
      if (rng.chance(0.3)) cuts.add(e);
      else {
        if (rng.chance(0.3)) { for (let i = 1; i <= Math.min(6, total); i++) cuts.add(i); // dribble
         }
        const n = rng.int(1, 4);
        for (let i = 0; i < n; i++) cuts.add(rng.int(1, Math.max(1, total)));
      }
    }
  }
  cuts.add(total);
  const sorted = [...cuts].filter((c) => c > 0 && c <= total).sort((a, b) => a - b);
  const writes: PlannedWrite[] = [];
  let from = 0;
  for (const to of sorted) {
    if (to <= from) continue;
    const delayMs = writes.length === 0
      ? 0
      : rng.weighted([[0, 6], [rng.int(1, 5), 3], [rng.int(10, 30), 1]]);
    writes.push({
      bytes: all.subarray(from, to),
      delayMs,
      packetsDone: ends.filter((e) => e <= to).length,
    });
    from = to;
  }
  return writes;
}

/** The plan of fuzz connection `index` of the run seeded with `seed`. */
export function planConnection(
  seed: number,
  index: number,
  o: GenOptions,
  limits: PlanLimits = DEFAULT_LIMITS,
): ConnPlan {
  const rng = Rng.forIndex(seed, index);
  const v: Version = rng.chance(0.5) ? 4 : 5;
  const packets: PlannedPacket[] = [];
  const start = rng.weighted([["valid", 78], ["mutated", 17], ["none", 5]] as const);
  if (start !== "none") {
    const m = genConnect(rng, v, o);
    packets.push(start === "valid" ? { bytes: encode(m), name: m.name } : mutate(rng, m, o));
  }
  const pValid = rng.pick([0.2, 0.5, 0.8]);
  const n = rng.count(1, limits.meanPackets, limits.maxPackets);
  for (let i = 0; i < n; i++) {
    const corpus = CORPUS.filter((c) => c.versions.includes(v));
    if (start === "valid" && rng.chance(0.03)) {
      const c = rng.pick(corpus);
      packets.push({ bytes: c.bytes, name: `corpus: ${c.name}` });
    } else {
      packets.push(onePacket(rng, v, o, pValid));
    }
  }
  const end = rng.weighted([["disconnect", 25], ["fin", 25], ["rst", 25], ["linger", 25]] as const);
  if (end === "disconnect") {
    const m = cleanDisconnect(v);
    packets.push({ bytes: encode(m), name: m.name });
  }
  const awaitConnack = start === "valid" && rng.chance(0.5);
  return { index, version: v, packets, writes: writesOf(rng, packets), awaitConnack, end };
}

/** A plan as text, one packet a line with its bytes in hex (the first 64), for reports. */
export function describePlan(plan: ConnPlan): string {
  const lines = [`connection #${plan.index} v${plan.version} end=${plan.end}`];
  for (const p of plan.packets) {
    const more = p.bytes.length > 64 ? ` ... (${p.bytes.length} bytes)` : "";
    lines.push(`  ${p.name}: ${hex(p.bytes.subarray(0, 64))}${more}`);
  }
  return lines.join("\n");
}
