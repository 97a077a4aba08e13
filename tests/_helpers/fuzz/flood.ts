/**
 * Fuzz helper: the flood driver. Opens many short-lived raw TCP connections to 127.0.0.1 (node:net,
 * as the supervisor's own sockets), each carrying out one plan (plan.ts): its writes, with their
 * pauses, then its end (FIN, RST, or waiting for the broker to close). Bounded in every way: a cap
 * on connections open at once, on connections, packets and time in all, on each connection's
 * life, and an optional rate of new connections. Owns those sockets; reads and discards what the
 * broker sends. Knows nothing about the broker under test.
 */

import { connect as netConnect, type Socket } from "node:net";
import type { GenOptions } from "./gen_client.ts";
import { type ConnPlan, DEFAULT_LIMITS, planConnection, type PlanLimits } from "./plan.ts";

/** The only host the flood ever connects to. */
export const FLOOD_HOST = "127.0.0.1";
/** Longest wait for a TCP connection to be established. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** Bounds and shape of a flood. */
export interface FloodOptions {
  port: number;
  seed: number;
  gen: GenOptions;
  limits?: PlanLimits;
  /** Stop after this many connections. */
  maxConnections: number;
  /** Stop after this many packets written. */
  maxPackets: number;
  /** Stop after this long (ms). */
  maxMs: number;
  /** Connections open at once. */
  inFlight: number;
  /** New connections per second; 0 = as fast as inFlight allows. */
  rate: number;
  /** Longest life of one established connection (ms); it is reset after that. */
  lifeMs: number;
  /** Index of the first connection (default 0). */
  firstIndex?: number;
}

/** What a flood did so far. */
export interface FloodStats {
  /** TCP connections established. */
  connections: number;
  /** TCP connects that failed (refused, reset before established, not done in 5 s). */
  connectErrors: number;
  /** Packets whose last byte was handed to the socket while it was open. */
  packets: number;
  bytes: number;
  /** Connections the broker closed before the plan's own end. */
  closedByBroker: number;
  /** Why TCP connects failed: error code → count. */
  connectErrorCodes: Record<string, number>;
  /** Index of the next connection to start: connections started so far are below it. */
  nextIndex: number;
  elapsedMs: number;
}

/** What one connection did. */
interface ConnResult {
  connected: boolean;
  packets: number;
  bytes: number;
  closedByBroker: boolean;
  /** Why the TCP connect failed, when it did. */
  connectError?: string;
}

/**
 * Carries out one plan on a fresh connection; never rejects; bounded by CONNECT_TIMEOUT_MS to
 * establish it and lifeMs from then on.
 */
export function runPlan(port: number, plan: ConnPlan, lifeMs: number): Promise<ConnResult> {
  const r: ConnResult = { connected: false, packets: 0, bytes: 0, closedByBroker: false };
  const sock: Socket = netConnect({ host: FLOOD_HOST, port });
  sock.setNoDelay(true);
  let closed = false;
  let ending = false;
  let wake: (() => void) | null = null;
  let gotData = false;
  sock.on("data", () => {
    gotData = true;
    wake?.();
  });
  sock.on("error", (e: Error & { code?: string }) => {
    if (!r.connected) r.connectError ??= e.code ?? e.message;
  });
  sock.on("close", () => {
    closed = true;
    if (!ending) r.closedByBroker = r.connected;
    wake?.();
  });
  let deadline = Date.now() + CONNECT_TIMEOUT_MS;
  /** Waits until cond() holds, the socket closed, or ms passed (never past the deadline). */
  const until = async (cond: () => boolean, ms: number) => {
    const end = Math.min(deadline, Date.now() + ms);
    while (!cond() && !closed && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, end - Date.now()));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  };
  const reset = () => {
    ending = true;
    if (!closed) sock.resetAndDestroy();
  };
  return (async () => {
    let established = false;
    sock.once("connect", () => {
      established = true;
      r.connected = true;
      wake?.();
    });
    // The TCP handshake is not part of the connection's life: a broker slow to accept leaves it
    // in the listen backlog, where a lost SYN is retried only after 1 s and again after 3 s.
    await until(() => established, CONNECT_TIMEOUT_MS);
    if (!established) {
      r.connectError ??= closed ? "closed before established" : "not established in time";
      reset();
      return r;
    }
    deadline = Date.now() + lifeMs;
    for (const [i, w] of plan.writes.entries()) {
      if (w.delayMs > 0) await until(() => false, w.delayMs);
      if (i === 1 && plan.awaitConnack) await until(() => gotData, 200);
      if (closed || Date.now() >= deadline) break;
      sock.write(w.bytes);
      r.packets = w.packetsDone;
      r.bytes += w.bytes.length;
    }
    if (!closed && Date.now() < deadline) {
      if (plan.end === "linger") {
        await until(() => false, 200);
      } else if (plan.end !== "rst") {
        ending = true;
        sock.end();
        await until(() => false, 100);
      }
    }
    reset();
    return r;
  })();
}

/**
 * A running flood. start() resolves once every bound is reached (or stop() was called) and every
 * connection has ended.
 */
export class Flood {
  readonly #o: FloodOptions;
  #stopped = false;
  #wake: (() => void) | null = null;
  #active = 0;
  readonly #stats: FloodStats;

  constructor(o: FloodOptions) {
    this.#o = o;
    this.#stats = {
      connections: 0,
      connectErrors: 0,
      packets: 0,
      bytes: 0,
      closedByBroker: 0,
      connectErrorCodes: {},
      nextIndex: o.firstIndex ?? 0,
      elapsedMs: 0,
    };
  }

  /** A snapshot of the counters. */
  get stats(): FloodStats {
    return { ...this.#stats, connectErrorCodes: { ...this.#stats.connectErrorCodes } };
  }

  /** Asks the flood to start no more connections. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  #done(): boolean {
    const o = this.#o;
    const s = this.#stats;
    return this.#stopped || s.nextIndex - (o.firstIndex ?? 0) >= o.maxConnections ||
      s.packets >= o.maxPackets || s.elapsedMs >= o.maxMs;
  }

  async #wait(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.#wake = null;
  }

  async #one(index: number): Promise<void> {
    const o = this.#o;
    const plan = planConnection(o.seed, index, o.gen, o.limits ?? DEFAULT_LIMITS);
    const r = await runPlan(o.port, plan, o.lifeMs);
    const s = this.#stats;
    if (r.connected) s.connections++;
    else {
      s.connectErrors++;
      const code = r.connectError ?? "unknown";
      s.connectErrorCodes[code] = (s.connectErrorCodes[code] ?? 0) + 1;
    }
    s.packets += r.packets;
    s.bytes += r.bytes;
    if (r.closedByBroker) s.closedByBroker++;
  }

  /** Runs the flood; resolves with the final counters. */
  async start(): Promise<FloodStats> {
    const o = this.#o;
    const t0 = performance.now();
    let paceBase = t0;
    let paced = 0;
    const running = new Set<Promise<void>>();
    while (!this.#done()) {
      this.#stats.elapsedMs = performance.now() - t0;
      if (this.#active >= o.inFlight) {
        await this.#wait(50);
        continue;
      }
      if (o.rate > 0) {
        const due = paceBase + (paced * 1000) / o.rate;
        const now = performance.now();
        if (due - now > 1) {
          await this.#wait(Math.min(50, due - now));
          continue;
        }
        // Behind by more than a second (the machine could not keep up): no burst to catch up.
        if (now - due > 1000) {
          paceBase = now;
          paced = 0;
        }
        paced++;
      }
      const index = this.#stats.nextIndex++;
      this.#active++;
      const p = this.#one(index).finally(() => {
        this.#active--;
        running.delete(p);
        this.#wake?.();
      });
      running.add(p);
    }
    await Promise.all(running);
    this.#stats.elapsedMs = performance.now() - t0;
    return this.stats;
  }
}
