/**
 * The `restart` section of `deno task bench:store`: issue 13's "restart with 100,000 persistent
 * sessions and 1,000,000 retained messages: listening and serving in ≤ 5 s", through a real Culex
 * process with `durable_sessions.enable: true` and the disc retainer on a copy of the data set
 * (each run on a fresh copy, so no run finds another's changes). Measured: spawn to "listening",
 * and spawn to the first queued message of one restored session (`device-4242`, resumed with
 * clean session 0 on a raw socket: CONNACK with session present, then its queued QoS 1 PUBLISH).
 */

import { spawnCulex } from "./store_broker.ts";
import { connectPacket, DISCONNECT, Scanner, T } from "./wire.ts";

/** One restart's figures, ms from spawning the process. */
export interface RestartTiming {
  readonly listeningMs: number;
  readonly servingMs: number;
  readonly sessionPresent: boolean;
}

/** Resumes `clientId` and resolves when its first queued PUBLISH arrives (bounded: 30 s). */
async function firstQueued(port: number, clientId: string): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let present = false;
    let got: () => void = () => {};
    const arrived = new Promise<void>((r) => got = r);
    const scanner = new Scanner((buf, first, body) => {
      const type = first >> 4;
      if (type === T.CONNACK) present = (buf[body]! & 1) === 1;
      if (type === T.PUBLISH) got();
    });
    void (async () => {
      const chunk = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(chunk);
          if (n === null) break;
          scanner.push(chunk.slice(0, n));
        }
      } catch { /* closed */ }
    })();
    await conn.write(connectPacket(clientId, 0, false));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      arrived,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no queued message for ${clientId}`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    await conn.write(DISCONNECT);
    return present;
  } finally {
    conn.close();
  }
}

/** `runs` restarts of a copy of `dataDir`'s store with `shards` shards. */
export async function runRestart(
  dataDir: string,
  shards: number,
  runs: number,
): Promise<RestartTiming[]> {
  const out: RestartTiming[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await Deno.makeTempDir({ prefix: "culex_restart_" });
    try {
      await Deno.copyFile(`${dataDir}/culex.db`, `${dir}/culex.db`);
      const t0 = performance.now();
      const broker = await spawnCulex(dir, shards, true, ["durable_sessions.enable=true"]);
      try {
        const sessionPresent = await firstQueued(broker.port, "device-4242");
        const t: RestartTiming = {
          listeningMs: Math.round(broker.listeningMs),
          servingMs: Math.round(performance.now() - t0),
          sessionPresent,
        };
        console.log(
          `restart, run ${i + 1}: 100,000 persistent sessions + 1,000,000 retained, durable ` +
            `sessions on: listening after ${t.listeningMs} ms, device-4242's queued message ` +
            `after ${t.servingMs} ms (session present ${sessionPresent})`,
        );
        out.push(t);
      } finally {
        await broker.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return out;
}
