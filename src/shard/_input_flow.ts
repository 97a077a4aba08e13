/**
 * InputFlow: how much of one connection's input a Channel may take now. It holds, in order, the
 * packets that arrive while the channel waits for asynchronous work (bounded by
 * mqtt.max_held_bytes), and applies the listener's per-client messages_rate (EMQX's token
 * bucket); either one pauses reading of that one socket (ConnPause), never drops. Made only for
 * connections that need it (most never hold a packet and have no rate). Private to src/shard/;
 * owned by one Channel.
 *
 * @module
 */

import { ClientLimiter } from "../auth/mod.ts";
import type { Rate } from "../config/types.ts";
import type { DecodeResult } from "../mqtt/mod.ts";
import type { Clock, TimerHandle } from "./clock.ts";

/** Reading paused because held packets passed mqtt.max_held_bytes. */
const PAUSE_HELD = 1;
/** Reading paused because the client is over its listener's messages_rate. */
const PAUSE_RATE = 2;

/** What an InputFlow needs from its Channel. */
export interface InputFlowDeps {
  readonly clock: Clock;
  readonly maxHeldBytes: number;
  /** Stop (true) or resume (false) reading the socket. */
  pause(on: boolean): void;
}

/** See the file header. */
export class InputFlow {
  readonly #deps: InputFlowDeps;
  #held: DecodeResult[] | null = null;
  #heldBytes = 0;
  #pauses = 0;
  #limiter: ClientLimiter | null = null;
  #rateTimer: TimerHandle | undefined = undefined;
  #stopped = false;

  constructor(deps: InputFlowDeps) {
    this.#deps = deps;
  }

  /** True while packets are held. */
  get holding(): boolean {
    return this.#held !== null;
  }

  /** Applies `rate` (PUBLISH packets per period) from now on. */
  limitMessages(rate: Rate): void {
    this.#limiter = new ClientLimiter({ messagesRate: rate }, this.#deps.clock.now());
  }

  /** Keeps results[from..] in order; pauses reading above the bound. */
  hold(results: readonly DecodeResult[], from: number): void {
    const held = this.#held ??= [];
    for (let i = from; i < results.length; i++) {
      const r = results[i]!;
      held.push(r);
      this.#heldBytes += r.ok ? r.packet.length ?? 0 : 0;
    }
    if (this.#heldBytes > this.#deps.maxHeldBytes) this.#setPause(PAUSE_HELD, true);
  }

  /** Hands the held packets back (for replay) and forgets them. */
  takeHeld(): DecodeResult[] {
    const held = this.#held ?? [];
    this.#held = null;
    this.#heldBytes = 0;
    return held;
  }

  /** After a replay: reading resumes once what is held again is under half the bound. */
  released(): void {
    if (this.#heldBytes <= this.#deps.maxHeldBytes / 2) this.#setPause(PAUSE_HELD, false);
  }

  /** One PUBLISH arrived: over the rate, reading stops for as long as the bucket needs. */
  countPublish(): void {
    const limiter = this.#limiter;
    if (limiter === null) return;
    const clock = this.#deps.clock;
    const wait = limiter.onPublish(clock.now());
    if (wait <= 0 || this.#rateTimer !== undefined) return;
    this.#setPause(PAUSE_RATE, true);
    this.#rateTimer = clock.setTimer(wait, () => {
      this.#rateTimer = undefined;
      this.#setPause(PAUSE_RATE, false);
    });
  }

  /** The connection ended: drop what is held, stop the timer, tell nobody anything more. */
  stop(): void {
    this.#stopped = true;
    this.#held = null;
    this.#deps.clock.clearTimer(this.#rateTimer);
  }

  /** Sets or clears one pause reason; the socket is told only when reading starts or stops. */
  #setPause(reason: number, on: boolean): void {
    const before = this.#pauses;
    this.#pauses = on ? before | reason : before & ~reason;
    if ((before === 0) !== (this.#pauses === 0) && !this.#stopped) {
      this.#deps.pause(this.#pauses !== 0);
    }
  }
}
