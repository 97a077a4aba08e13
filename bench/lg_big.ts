/**
 * Load generator, big-message mode: one publisher sends `messages` PUBLISHes of `size` bytes, one
 * at a time, to one subscriber of the topic; each is timed from the publisher's write to the
 * moment the whole message has arrived at the subscriber (and to the publisher's PUBACK). The
 * client ids come from the runner, which places them on different shards. Owns its two
 * connections; the runner owns the timing of phases across processes.
 */

import process from "node:process";
import { Conn, connErrors } from "./lg_conn.ts";
import { bigPublish, publishPidOffset, readPid, setPid } from "./wire.ts";

/** Big messages: `messages` publishes of `size` bytes, one in flight at a time. */
export interface BigSpec {
  mode: "big";
  port: number;
  size: number;
  messages: number;
  qos: 0 | 1;
  pubId: string;
  subId: string;
  /** Pause between messages (lets each broker settle, as a human would publish files). */
  gapMs: number;
  timeoutMs: number;
}

const TOPIC = "bench/big";

function median(sorted: number[]): number {
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** big mode; see BigSpec. */
export async function setupBig(spec: BigSpec): Promise<() => Promise<Record<string, unknown>>> {
  const sub = await Conn.open(spec.port, spec.subId);
  await sub.subscribe(TOPIC, spec.qos);
  const pub = await Conn.open(spec.port, spec.pubId);
  const t = bigPublish(TOPIC, spec.qos, spec.size);
  let onDelivered: ((at: number, bytes: number) => void) | null = null;
  let onPuback: ((at: number) => void) | null = null;
  sub.onPacket = (buf, first, body, end) => {
    if (first >> 4 !== 3) return;
    const at = performance.now();
    if (((first >> 1) & 3) > 0) {
      const pid = readPid(buf, publishPidOffset(buf, body));
      sub.write(Uint8Array.of(0x40, 2, pid >> 8, pid & 0xff));
    }
    onDelivered?.(at, end - body);
  };
  pub.onPacket = (_buf, first) => {
    if (first >> 4 === 4) onPuback?.(performance.now());
  };

  return async () => {
    const cpu0 = process.cpuUsage();
    const t0All = performance.now();
    const deliverMs: number[] = [];
    const pubackMs: number[] = [];
    let short = 0;
    for (let i = 0; i < spec.messages; i++) {
      if (spec.qos > 0) setPid(t.bytes, t.pidOffset, (i % 0xffff) + 1);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const delivered = new Promise<number>((resolve, reject) => {
        onDelivered = (at, bytes) => {
          if (bytes < spec.size) short++;
          resolve(at);
        };
        timer = setTimeout(() => reject(new Error(`message ${i} not delivered`)), spec.timeoutMs);
      });
      const acked = spec.qos > 0
        ? new Promise<number>((resolve) => (onPuback = resolve))
        : Promise.resolve(NaN);
      const t0 = performance.now();
      pub.write(t.bytes);
      const [at, ackAt] = await Promise.all([delivered, acked]).finally(() => clearTimeout(timer));
      deliverMs.push(at - t0);
      pubackMs.push(ackAt - t0);
      await new Promise((r) => setTimeout(r, spec.gapMs));
    }
    const wallMs = performance.now() - t0All;
    const errs = connErrors([sub, pub]);
    sub.destroy();
    pub.destroy();
    const sorted = [...deliverMs].sort((a, b) => a - b);
    return {
      messages: spec.messages,
      size: spec.size,
      deliverMs,
      pubackMs,
      p50: median(sorted),
      min: sorted[0] ?? NaN,
      max: sorted[sorted.length - 1] ?? NaN,
      puback50: median([...pubackMs].sort((a, b) => a - b)),
      short,
      errors: errs.count,
      firstError: errs.first,
      cpuPct: (() => {
        const used = process.cpuUsage(cpu0);
        return (used.user + used.system) / 10 / wallMs;
      })(),
    };
  };
}
