/**
 * The `broker` section of `deno task bench:store`: issue 13's retained figures through a real
 * Culex process with `retainer.backend.storage_type: disc` on the data set's store file
 * (1,000,000 retained `sensor/<n>/<metric>` messages): the time from spawning the process to
 * "listening" (against the same process on an empty data directory), the time from SUBSCRIBE
 * `#` to the last of the 1,000,000 retained messages on the socket, and from SUBSCRIBE
 * `sensor/+/temp` to the last of its 1,000 matches. The subscriber is a raw socket that frames
 * packets by their fixed headers only (bench/wire.ts), so the client costs next to nothing.
 */

import { connectPacket, DISCONNECT, Scanner, subscribePacket, T } from "./wire.ts";

const LISTENING = /Listener tcp:default listening on 127\.0\.0\.1:(\d+)/;

export interface Running {
  readonly port: number;
  /** CPU ms of the broker process so far, every thread (/proc/<pid>/stat utime + stime). */
  cpuMs(): number;
  /**
   * CPU ms so far per thread name (/proc/<pid>/task/<tid>/comm): "deno" is the supervisor (and
   * the runtime's own thread), "worker-1" the store worker, "worker-2".. the shards, "V8 ..."
   * V8's helper threads (concurrent GC, compilation), "tokio-runtime-w" socket I/O.
   */
  threadCpuMs(): Record<string, number>;
  /** ms from spawn to the listening line. */
  readonly listeningMs: number;
  /** VmRSS and VmHWM of the broker process (every isolate), MiB. */
  rssMiB(): { rss: number; hwm: number };
  stop(): Promise<void>;
}

/** Spawns `culex start` on `dataDir` (`extra`: more --set overrides); resolves once it listens. */
export async function spawnCulex(
  dataDir: string,
  shards: number,
  disc: boolean,
  extra: readonly string[] = [],
): Promise<Running> {
  const sets = [
    "listeners.tcp.default.bind=127.0.0.1:0",
    "dashboard.listeners.http.enable=false",
    "log.level=info",
    "sys_topics.sys_msg_interval=0",
    `node.data_dir=${dataDir}`,
    ...(disc
      ? ["retainer.backend.storage_type=disc", "retainer.backend.max_retained_messages=infinity"]
      : []),
    ...extra,
  ];
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      // STORE_BENCH_CPU_PROF=DIR: V8 profiles of every isolate (bench/profile_summary.ts).
      ...(Deno.env.get("STORE_BENCH_CPU_PROF")
        ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("STORE_BENCH_CPU_PROF")}`]
        : []),
      new URL("../main.ts", import.meta.url).pathname,
      "start",
      "--shards",
      String(shards),
      ...sets.flatMap((s) => ["--set", s]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${log}`)), 120_000);
    for (const stream of [child.stdout, child.stderr]) {
      void (async () => {
        for await (const chunk of stream) {
          log += decoder.decode(chunk);
          const m = LISTENING.exec(log);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        }
      })();
    }
  });
  const listeningMs = performance.now() - t0;
  const tick = 100; // USER_HZ on Linux
  return {
    port,
    cpuMs() {
      const f = Deno.readTextFileSync(`/proc/${child.pid}/stat`).split(") ")[1]!.split(" ");
      return (Number(f[11]) + Number(f[12])) * 1000 / tick;
    },
    threadCpuMs() {
      const out: Record<string, number> = {};
      for (const t of Deno.readDirSync(`/proc/${child.pid}/task`)) {
        try {
          const dir = `/proc/${child.pid}/task/${t.name}`;
          const name = Deno.readTextFileSync(`${dir}/comm`).trim();
          const f = Deno.readTextFileSync(`${dir}/stat`).split(") ")[1]!.split(" ");
          out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) * 1000 / tick;
        } catch { /* the thread ended */ }
      }
      return out;
    },
    listeningMs,
    rssMiB() {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
    },
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Where a lookup's time went, ms from the SUBSCRIBE: its SUBACK, first and n-th PUBLISH. */
export interface RetainedTiming {
  readonly ms: number;
  readonly subackMs: number;
  readonly firstMs: number;
}

/** Subscribes `filter` at QoS 0 on a raw connection and times its n retained messages. */
export async function timeRetained(
  port: number,
  filter: string,
  n: number,
): Promise<RetainedTiming> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let connacked: () => void = () => {};
    const connack = new Promise<void>((r) => connacked = r);
    let publishes = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => done = r);
    let t0 = 0, subackMs = 0, firstMs = 0;
    const scanner = new Scanner((_buf, first) => {
      const type = first >> 4;
      if (type === T.CONNACK) connacked();
      else if (type === T.SUBACK) subackMs = performance.now() - t0;
      else if (type === T.PUBLISH) {
        if (++publishes === 1) firstMs = performance.now() - t0;
        if (publishes === n) done();
      }
    });
    const reading = (async () => {
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        const got = await conn.read(buf).catch(() => null);
        if (got === null) return;
        scanner.push(buf.subarray(0, got));
      }
    })();
    await conn.write(connectPacket(`bench-${crypto.randomUUID()}`));
    await connack;
    t0 = performance.now();
    await conn.write(subscribePacket(filter, 0));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${filter}: ${publishes} of ${n} in 120 s`)),
        120_000,
      );
    });
    // Cleared after: a pending 120 s timer kept the bench process alive two minutes after its
    // last figure.
    await Promise.race([all, timeout]).finally(() => clearTimeout(timer));
    const ms = performance.now() - t0;
    await conn.write(DISCONNECT).catch(() => {});
    conn.close();
    await reading;
    return { ms, subackMs, firstMs };
  } catch (e) {
    try {
      conn.close();
    } catch { /* closed */ }
    throw e;
  }
}

/** Runs the section; `retained` is the data set's count, `runs` repetitions of each figure. */
export async function runBrokerRetained(
  dataDir: string,
  retained: number,
  shards: number,
  runs: number,
  opts: { hash: boolean } = { hash: true },
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {
    emptyListeningMs: [],
    listeningMs: [],
    hashMs: [],
    hashCpuMs: [],
    sensorTempMs: [],
    sensorTempSubackMs: [],
    sensorTempFirstMs: [],
    sensorTempWarmMs: [],
  };
  const sensors = Math.max(1, Math.round(retained / 1000));
  for (let i = 0; i < runs; i++) {
    const empty = await Deno.makeTempDir({ prefix: "culex_bench_empty_" });
    const e = await spawnCulex(empty, shards, true);
    out.emptyListeningMs!.push(e.listeningMs);
    await e.stop();
    await Deno.remove(empty, { recursive: true });

    const b = await spawnCulex(dataDir, shards, true);
    out.listeningMs!.push(b.listeningMs);
    try {
      const cold = await timeRetained(b.port, "sensor/+/temp", sensors);
      out.sensorTempMs!.push(cold.ms);
      out.sensorTempSubackMs!.push(cold.subackMs);
      out.sensorTempFirstMs!.push(cold.firstMs);
      out.sensorTempWarmMs!.push((await timeRetained(b.port, "sensor/+/temp", sensors)).ms);
      if (opts.hash) {
        const cpu0 = b.cpuMs();
        const threads0 = b.threadCpuMs();
        out.hashMs!.push((await timeRetained(b.port, "#", retained)).ms);
        out.hashCpuMs!.push(b.cpuMs() - cpu0);
        const threads = Object.entries(b.threadCpuMs())
          .map(([name, ms]) => `${name} ${((ms - (threads0[name] ?? 0)) / 1000).toFixed(2)} s`);
        console.log(`broker, run ${i + 1}: "#" CPU by thread: ${threads.join(", ")}`);
      }
    } finally {
      await b.stop();
    }
    const f = (xs: number[]) => xs.length > 0 ? xs[xs.length - 1]!.toFixed(0) : "-";
    console.log(
      `broker, run ${i + 1}: listening after ${f(out.listeningMs!)} ms (empty store: ` +
        `${f(out.emptyListeningMs!)} ms); "sensor/+/temp" ${sensors} matches in ` +
        `${f(out.sensorTempMs!)} ms (SUBACK ${f(out.sensorTempSubackMs!)}, first message ` +
        `${f(out.sensorTempFirstMs!)}; again: ${f(out.sensorTempWarmMs!)} ms); "#" ${retained} ` +
        `retained in ${f(out.hashMs!)} ms (broker CPU ${f(out.hashCpuMs!)} ms)`,
    );
  }
  return out;
}
