/**
 * The `queue-rss` section of `deno task bench:store`: issue 13's "1,000,000 queued messages for
 * offline clients must not grow the broker's RSS by more than ~50 MB", through a real Culex
 * process (2 shards, `durable_sessions.enable: true`, a fresh data directory). `sessions`
 * persistent sessions (MQTT 3.1.1, clean session 0) subscribe to `rq/all` at QoS 1 and
 * disconnect; `publishers` raw connections then publish `queued / sessions` QoS 1 messages of
 * 64 bytes to `rq/all` (window 32 each), so every session's disk queue holds `queued /
 * sessions` messages (`mqtt.max_mqueue_len` is set to that, nothing is dropped) and every
 * PUBLISH is acknowledged only once its rows are committed. The broker's VmRSS
 * (/proc/<pid>/status, every isolate) is read after the sessions went offline and after the
 * last PUBACK: right away, and the lowest over a settle window (garbage collected).
 */

import { spawnCulex } from "./store_broker.ts";
import {
  connectPacket,
  DISCONNECT,
  publishTemplate,
  Scanner,
  setPid,
  subscribePacket,
  T,
} from "./wire.ts";

export interface QueueRssResult {
  readonly queued: number;
  readonly sessions: number;
  readonly beforeMiB: number;
  readonly afterMiB: number;
  readonly settledMiB: number;
  readonly growthMiB: number;
  readonly settledGrowthMiB: number;
  readonly peakMiB: number;
  readonly publishMs: number;
  readonly msgsPerSec: number;
  readonly fileMiB: number;
}

const WINDOW = 32;

/** A raw MQTT 3.1.1 connection: write, and a callback per framed packet. */
async function open(
  port: number,
  clientId: string,
  clean: boolean,
  onPacket: (buf: Uint8Array, first: number, body: number) => void,
): Promise<{ conn: Deno.Conn; reading: Promise<void> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let connacked: () => void = () => {};
  const connack = new Promise<void>((r) => connacked = r);
  const scanner = new Scanner((buf, first, body) => {
    if (first >> 4 === T.CONNACK) connacked();
    else onPacket(buf, first, body);
  });
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const got = await conn.read(buf).catch(() => null);
      if (got === null) return;
      scanner.push(buf.subarray(0, got));
    }
  })();
  await conn.write(connectPacket(clientId, 0, clean));
  await connack;
  return { conn, reading };
}

async function close(c: { conn: Deno.Conn; reading: Promise<void> }): Promise<void> {
  await c.conn.write(DISCONNECT).catch(() => {});
  c.conn.close();
  await c.reading;
}

/** Lowest RSS over `ms` (sampled every 250 ms): what stays once garbage is collected. */
async function settledRss(rss: () => number, ms: number): Promise<number> {
  let low = rss();
  for (let t = 0; t < ms; t += 250) {
    await new Promise((r) => setTimeout(r, 250));
    low = Math.min(low, rss());
  }
  return low;
}

/** Runs the section once. */
export async function runQueueRss(
  queued: number,
  sessions: number,
  publishers: number,
  settleMs: number,
): Promise<QueueRssResult> {
  const perSession = Math.ceil(queued / sessions);
  const dir = await Deno.makeTempDir({ prefix: "culex_bench_queue_rss_" });
  const b = await spawnCulex(dir, 2, false, [
    "durable_sessions.enable=true",
    `mqtt.max_mqueue_len=${perSession}`,
  ]);
  try {
    for (let i = 0; i < sessions; i++) {
      let subacked: () => void = () => {};
      const suback = new Promise<void>((r) => subacked = r);
      const c = await open(b.port, `rq-offline-${i}`, false, (_buf, first) => {
        if (first >> 4 === T.SUBACK) subacked();
      });
      await c.conn.write(subscribePacket("rq/all", 1));
      await suback;
      await close(c);
    }
    const before = await settledRss(() => b.rssMiB().rss, settleMs);
    const t0 = performance.now();
    const share = Math.ceil(perSession / publishers);
    await Promise.all(Array.from({ length: publishers }, async (_, p) => {
      const total = Math.min(share, perSession - p * share);
      if (total <= 0) return;
      const tpl = publishTemplate("rq/all", 1, 64);
      let sent = 0, acked = 0;
      let wake: () => void = () => {};
      const c = await open(b.port, `rq-pub-${p}`, true, (_buf, first) => {
        if (first >> 4 !== T.PUBACK) return;
        acked++;
        wake();
      });
      const buf = tpl.bytes.slice();
      while (acked < total) {
        const batch: Uint8Array[] = [];
        while (sent < total && sent - acked < WINDOW) {
          setPid(buf, tpl.pidOffset, (sent % 65535) + 1);
          batch.push(buf.slice());
          sent++;
        }
        if (batch.length > 0) {
          const all = new Uint8Array(batch.length * buf.length);
          batch.forEach((x, i) => all.set(x, i * buf.length));
          await c.conn.write(all);
        }
        // Wait only while an ack is still to come (acks that came during the write are counted).
        if (acked < total && (sent - acked >= WINDOW || sent >= total)) {
          await new Promise<void>((r) => wake = r);
        }
      }
      await close(c);
    }));
    const publishMs = performance.now() - t0;
    const after = b.rssMiB().rss;
    const settled = await settledRss(() => b.rssMiB().rss, settleMs);
    const peak = b.rssMiB().hwm;
    let fileBytes = 0;
    for (const f of ["culex.db", "culex.db-wal"]) {
      fileBytes += await Deno.stat(`${dir}/${f}`).then((s) => s.size, () => 0);
    }
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return {
      queued: perSession * sessions,
      sessions,
      beforeMiB: r1(before),
      afterMiB: r1(after),
      settledMiB: r1(settled),
      growthMiB: r1(after - before),
      settledGrowthMiB: r1(settled - before),
      peakMiB: r1(peak),
      publishMs: Math.round(publishMs),
      msgsPerSec: Math.round(perSession * sessions / (publishMs / 1000)),
      fileMiB: r1(fileBytes / 2 ** 20),
    };
  } finally {
    await b.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
