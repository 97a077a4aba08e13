/**
 * Broker CPU per message, by thread, for fan-in QoS 1 into one persistent subscriber (the
 * `fanin-qos1-persistent` / `fanin-qos1-durable-*` shape of `deno task bench`, issue 13):
 *
 *   deno run -A bench/durable_cpu.ts [memory|normal|full] [messages=100000]
 *
 * Starts Culex (2 shards; `durable_sessions.enable` with that `sync` unless `memory`) on a fresh
 * data directory, connects one persistent subscriber of `bench/#` (MQTT 3.1.1, clean session 0,
 * acknowledging every PUBLISH) and 50 publishers (window 32, at most 800 messages ahead of the
 * subscriber), and prints the rate and the broker's CPU per delivered message for each thread
 * (/proc/<pid>/task/<tid>/stat; "deno" is the supervisor, "worker-1" the store worker in durable
 * mode, "worker-2".. the shards, "V8 DefaultWorke" V8's GC and compiler helpers). CPU per
 * message is the figure to compare between modes and commits: the rate depends on how much of
 * the 2 cores the machine leaves. The load generator runs in this process (Deno), unlike
 * `deno task bench`'s (Node).
 */

import { spawnCulex } from "./store_broker.ts";
import {
  AckBatch,
  connectPacket,
  publishPidOffset,
  publishTemplate,
  readPid,
  Scanner,
  setPid,
  subscribePacket,
  T,
} from "./wire.ts";

const mode = Deno.args[0] ?? "memory";
const total = Number(Deno.args[1] ?? 100_000);
const PUBLISHERS = 50, WINDOW = 32, LAG = 800;
const dir = await Deno.makeTempDir({ prefix: "culex_durable_cpu_" });
const broker = await spawnCulex(
  dir,
  2,
  false,
  mode === "memory" ? [] : ["durable_sessions.enable=true", `durable_sessions.sync=${mode}`],
);

type OnPacket = (buf: Uint8Array, first: number, body: number) => void;

async function open(id: string, clean: boolean, on: OnPacket): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: broker.port });
  let connacked: () => void = () => {};
  const connack = new Promise<void>((r) => connacked = r);
  const scanner = new Scanner((buf, first, body) => {
    if (first >> 4 === T.CONNACK) connacked();
    else on(buf, first, body);
  });
  void (async () => {
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      scanner.push(buf.subarray(0, n));
    }
  })();
  await conn.write(connectPacket(id, 0, clean));
  await connack;
  return conn;
}

try {
  let delivered = 0;
  const acks = new AckBatch();
  let subacked: () => void = () => {};
  const suback = new Promise<void>((r) => subacked = r);
  const sub = await open("durable-cpu-sub", false, (buf, first, body) => {
    const type = first >> 4;
    if (type === T.SUBACK) subacked();
    else if (type === T.PUBLISH) {
      delivered++;
      if ((first >> 1) & 3) acks.add(0x40, readPid(buf, publishPidOffset(buf, body)));
    }
  });
  await sub.write(subscribePacket("bench/#", 1));
  await suback;
  // The subscriber's PUBACKs go out once a millisecond, one write for all.
  const ackTimer = setInterval(() => {
    if (acks.length > 0) void sub.write(acks.take()).catch(() => {});
  }, 1);
  const each = Math.ceil(total / PUBLISHERS);
  let sentAll = 0;
  const cpu0 = broker.threadCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: PUBLISHERS }, async (_, p) => {
    const tpl = publishTemplate(`bench/fanin/${p}`, 1, 64);
    const size = tpl.bytes.length;
    let sent = 0, acked = 0;
    let wake: () => void = () => {};
    const conn = await open(`durable-cpu-pub-${p}`, true, (_buf, first) => {
      if (first >> 4 === T.PUBACK) {
        acked++;
        wake();
      }
    });
    while (acked < each) {
      let n = 0;
      const out = new Uint8Array(WINDOW * size);
      while (sent < each && sent - acked < WINDOW && sentAll - delivered < LAG && n < WINDOW) {
        out.set(tpl.bytes, n * size);
        setPid(out, n * size + tpl.pidOffset, (sent % 65535) + 1);
        n++, sent++, sentAll++;
      }
      if (n > 0) await conn.write(out.subarray(0, n * size));
      // A PUBACK, or the subscriber catching up (polled: the lag bound has no event).
      if (acked < each) await new Promise<void>((r) => (wake = r, setTimeout(r, 2)));
    }
    conn.close();
  }));
  for (let i = 0; delivered < total && i < 30_000; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  const cpu1 = broker.threadCpuMs();
  clearInterval(ackTimer);
  sub.close();
  const us = (x: number) => (x * 1000 / delivered).toFixed(1);
  let sum = 0;
  const threads = Object.entries(cpu1).map(([name, v]) => {
    sum += v - (cpu0[name] ?? 0);
    return `${name} ${us(v - (cpu0[name] ?? 0))}`;
  });
  console.log(
    `${mode}: ${delivered} msgs in ${ms.toFixed(0)} ms = ${
      (delivered / ms * 1000).toFixed(0)
    } msg/s; broker CPU ${us(sum)} µs/msg: ${threads.join(", ")}`,
  );
} finally {
  await broker.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
