/**
 * Load generator, flood mode: P publishers and S subscribers in this process (fan-in, fan-out,
 * QoS 2). Publishers send pre-encoded PUBLISH batches as fast as two bounds allow: a per-publisher
 * inflight window at QoS 1/2, and an end-to-end lag (messages sent but not yet received by the
 * average subscriber) at every QoS, which keeps the run closed-loop and the broker's queues
 * bounded. Counts what the subscribers received inside the timed window, then drains to check
 * delivery: at QoS 1/2 every acknowledged message must arrive (loss otherwise).
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { Conn, connErrors, openMany, useTransport } from "./lg_conn.ts";
import type { Transport } from "./lg_transport.ts";
import {
  AckBatch,
  publishPidOffset,
  publishTemplate,
  readPid,
  readU32,
  repeat,
  setPid,
  writeU32,
} from "./wire.ts";

/** What the runner asks a flood process to do. */
export interface FloodSpec {
  mode: "flood";
  port: number;
  pubs: number;
  subs: number;
  qos: number;
  /** Publisher i sends to `${topic}/${i}`, or to `topic` itself when sameTopic. */
  topic: string;
  sameTopic: boolean;
  /** The filter every subscriber subscribes to (at QoS qos). */
  filter: string;
  payload: number;
  /** Inflight window per publisher (QoS 1/2). */
  window: number;
  /** Messages the average subscriber may lag behind the publishers. */
  lag: number;
  durationMs: number;
  /** Upper bound on messages sent (0: none). */
  maxMessages: number;
  idPrefix: string;
  /** TLS or WebSocket instead of plain TCP (issue 12's scenarios). */
  transport?: Transport;
  /** Subscribers keep a persistent session (clean session 0): the durable scenarios. */
  persistentSubs?: boolean;
}

/** What a flood process reports. */
export interface FloodResult {
  sent: number;
  acked: number;
  received: number;
  expected: number;
  windowMs: number;
  windowReceived: number;
  windowSent: number;
  /** QoS 1/2: acknowledged to the publisher but never delivered. */
  loss: number;
  /** QoS 1/2: never acknowledged within the drain bound. */
  unacked: number;
  /** QoS 0: sent but not delivered (allowed at QoS 0). */
  dropped: number;
  /** Messages missing between two delivered ones of the same publisher (seen during the run). */
  gaps: number;
  /** Deliveries whose sequence number was not above the last one seen: duplicates or reordering. */
  outOfOrder: number;
  stalled: boolean;
  errors: number;
  firstError: string | null;
  cpuPct: number;
}

/** QoS 0 messages per pre-encoded batch write. */
const BATCH = 64;
const STALL_RELEASE_MS = 200;
const STALL_FAIL_MS = 5_000;
const DRAIN_MS_QOS0 = 3_000;
const DRAIN_MS_QOS12 = 10_000;

interface Pub {
  conn: Conn;
  inflight: number;
  nextPid: number;
  seq: number;
  blocked: boolean;
  rel: AckBatch;
}

/** Connects everything; resolves to the function that runs the timed flood. */
export async function setupFlood(spec: FloodSpec): Promise<() => Promise<FloodResult>> {
  const { qos, subs: nSubs } = spec;
  if (spec.transport) useTransport(spec.transport);
  const subOpen = await openMany(
    spec.port,
    nSubs,
    50,
    (i) => `${spec.idPrefix}-s${i}`,
    0,
    !spec.persistentSubs,
  );
  if (subOpen.errors > 0) throw new Error(`subscriber connect: ${subOpen.firstError}`);
  const subs = subOpen.conns;
  await Promise.all(subs.map((s) => s.subscribe(spec.filter, qos)));
  const pubOpen = await openMany(spec.port, spec.pubs, 50, (i) => `${spec.idPrefix}-p${i}`);
  if (pubOpen.errors > 0) throw new Error(`publisher connect: ${pubOpen.firstError}`);

  let sent = 0;
  let acked = 0;
  let received = 0;
  let gaps = 0;
  let outOfOrder = 0;
  let allowance = 0;
  let sending = false;
  let pumpQueued = false;
  let start = 0;
  const limit = spec.maxMessages > 0 ? spec.maxMessages : Number.MAX_SAFE_INTEGER;

  // Per subscriber, the last sequence number seen from each publisher: a jump is a gap (lost
  // messages, written off the lag at once), a step back is a duplicate or a reordering.
  for (const s of subs) {
    const acks = new AckBatch();
    const last = new Float64Array(spec.pubs).fill(-1);
    s.onPacket = (buf, first, body) => {
      const type = first >> 4;
      if (type === 3) {
        received++;
        const q = (first >> 1) & 3;
        let at = publishPidOffset(buf, body);
        if (q > 0) {
          acks.add(q === 1 ? 0x40 : 0x50, readPid(buf, at));
          at += 2;
        }
        const pub = (buf[at]! << 8) | buf[at + 1]!;
        const seq = readU32(buf, at + 2);
        const prev = last[pub] ?? -1;
        if (seq > prev) {
          gaps += seq - prev - 1;
          last[pub] = seq;
        } else {
          outOfOrder++;
        }
      } else if (type === 6) {
        acks.add(0x70, readPid(buf, body));
      }
    };
    s.onChunkEnd = () => {
      if (acks.length > 0) s.write(acks.take());
      schedulePump();
    };
  }

  const pubs: Pub[] = pubOpen.conns.map((conn) => {
    const p: Pub = { conn, inflight: 0, nextPid: 1, seq: 0, blocked: false, rel: new AckBatch() };
    conn.onPacket = (buf, first, body) => {
      const type = first >> 4;
      if (type === 4 || type === 7) {
        p.inflight--;
        acked++;
      } else if (type === 5) {
        p.rel.add(0x62, readPid(buf, body));
      }
    };
    conn.onChunkEnd = () => {
      if (p.rel.length > 0) conn.write(p.rel.take());
      schedulePump();
    };
    conn.sock.on("drain", () => {
      p.blocked = false;
      schedulePump();
    });
    return p;
  });
  const templates = pubs.map((_, i) => {
    const topic = spec.sameTopic ? spec.topic : `${spec.topic}/${i}`;
    const t = publishTemplate(topic, qos, spec.payload);
    t.bytes[t.payloadOffset] = i >> 8;
    t.bytes[t.payloadOffset + 1] = i & 0xff;
    return { ...t, batch: repeat(t.bytes, BATCH) };
  });

  function schedulePump(): void {
    if (pumpQueued || !sending) return;
    pumpQueued = true;
    setImmediate(pump);
  }

  function gateRoom(): number {
    const outstanding = sent * nSubs - received - gaps - allowance;
    return Math.floor((spec.lag * nSubs - outstanding) / nSubs);
  }

  function pump(): void {
    pumpQueued = false;
    if (!sending) return;
    let room = Math.min(gateRoom(), limit - sent);
    let wrote = false;
    const n = pubs.length;
    for (let k = 0; k < n && room > 0; k++) {
      const idx = (start + k) % n;
      const p = pubs[idx]!;
      if (p.blocked || p.conn.closed) continue;
      const t = templates[idx]!;
      const len = t.bytes.length;
      const m = Math.min(room, BATCH, qos === 0 ? BATCH : spec.window - p.inflight);
      if (m <= 0) continue;
      const bytes = t.batch.slice(0, m * len);
      for (let j = 0, o = 0; j < m; j++, o += len) {
        writeU32(bytes, o + t.payloadOffset + 2, p.seq++);
        if (qos > 0) {
          setPid(bytes, o + t.pidOffset, p.nextPid);
          p.nextPid = p.nextPid === 0xffff ? 1 : p.nextPid + 1;
        }
      }
      if (qos > 0) p.inflight += m;
      p.blocked = !p.conn.write(bytes);
      sent += m;
      room -= m;
      wrote = true;
    }
    start = (start + 1) % n;
    if (wrote && room > 0) schedulePump();
  }

  return async () => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    sending = true;
    let stalled = false;
    let lastProgress = t0;
    let lastSeen = -1;
    schedulePump();
    // Checks every 50 ms: deadline, progress, and the QoS 0 lag release (a dropped QoS 0
    // message never arrives, so after a quiet spell its share of the lag is written off).
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const seen = received + acked;
        if (seen !== lastSeen) {
          lastSeen = seen;
          lastProgress = now;
        } else if (qos === 0 && now - lastProgress >= STALL_RELEASE_MS && gateRoom() <= 0) {
          allowance = sent * nSubs - received - gaps;
          lastProgress = now;
          schedulePump();
        } else if (now - lastProgress >= STALL_FAIL_MS) {
          stalled = true;
        }
        if (now - t0 >= spec.durationMs || stalled || sent >= limit) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    sending = false;
    const windowMs = performance.now() - t0;
    const windowReceived = received;
    const windowSent = sent;
    const used = process.cpuUsage(cpu0);
    const cpuPct = (used.user + used.system) / 10 / windowMs;

    const drainBound = performance.now() + (qos === 0 ? DRAIN_MS_QOS0 : DRAIN_MS_QOS12);
    const inflight = () => pubs.reduce((a, p) => a + (p.conn.closed ? 0 : p.inflight), 0);
    const unique = () => received - outOfOrder;
    const complete = () =>
      qos === 0
        ? unique() + gaps >= sent * nSubs
        : inflight() === 0 && unique() + gaps >= acked * nSubs;
    while (!complete() && performance.now() < drainBound) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const all = [...subs, ...pubOpen.conns];
    const errs = connErrors(all);
    for (const c of all) c.destroy();
    return {
      sent,
      acked,
      received,
      expected: (qos === 0 ? sent : acked) * nSubs,
      windowMs,
      windowReceived,
      windowSent,
      loss: qos === 0 ? 0 : Math.max(0, acked * nSubs - unique()),
      unacked: qos === 0 ? 0 : sent - acked,
      dropped: qos === 0 ? Math.max(0, sent * nSubs - unique()) : 0,
      gaps,
      outOfOrder,
      stalled,
      errors: errs.count,
      firstError: errs.first,
      cpuPct,
    };
  };
}
