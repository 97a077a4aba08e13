/**
 * Dials: the addresses this node dials and their state (the link, the backoff attempt, whether
 * the address turned out to be this node). Backoff 0.5 s doubling to 10 s, jittered. Owned by
 * Links, which opens the sockets (`open`) and reports a link's end (`down`).
 */

import type { PeerLink } from "./peer_link.ts";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

/** A peer address to dial, as discovery names it. */
export interface Target {
  /** "host:port". */
  readonly address: string;
  /** The node name when discovery knows it (seeds); else learned from HELLO. */
  readonly name?: string;
}

/** One address this node dials. */
export interface Dial {
  target: Target;
  attempt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  link: PeerLink | null;
  /** The address turned out to be this node. */
  self: boolean;
  wanted: boolean;
}

/** See the file header. */
export class Dials {
  readonly #node: string;
  readonly #dials = new Map<string, Dial>();
  /** Opens a link to `address`, or null when not now (stopped, or that node is linked). */
  readonly #open: (target: Target) => PeerLink | null;
  /** Why the last link to an address failed (for `ctl cluster join`'s error). */
  readonly lastFailure = new Map<string, string>();
  #stopped = false;

  constructor(node: string, open: (target: Target) => PeerLink | null) {
    this.#node = node;
    this.#open = open;
  }

  /** The dial of `address`, if this node dials it. */
  at(address: string): Dial | undefined {
    return this.#dials.get(address);
  }

  /** The dial whose link `link` is. */
  of(link: PeerLink): Dial | undefined {
    for (const d of this.#dials.values()) if (d.link === link) return d;
    return undefined;
  }

  /** Dials every target (by address) not dialled yet; stops redialling the others. */
  apply(targets: ReadonlyMap<string, Target>): void {
    const seen = new Set<string>();
    for (const t of targets.values()) {
      if (t.name === this.#node) continue;
      seen.add(t.address);
      const d = this.#dials.get(t.address);
      if (d) {
        d.wanted = true;
        continue;
      }
      const dial: Dial = {
        target: t,
        attempt: 0,
        timer: undefined,
        link: null,
        self: false,
        wanted: true,
      };
      this.#dials.set(t.address, dial);
      this.#dial(dial);
    }
    for (const [address, d] of this.#dials) {
      if (seen.has(address)) continue;
      d.wanted = false;
      clearTimeout(d.timer);
      if (!d.link) this.#dials.delete(address);
    }
  }

  /** `link` closed: its dial (if any) forgets it and redials with backoff when still wanted. */
  down(link: PeerLink, reason: string): Dial | undefined {
    const d = this.of(link);
    if (!d) return undefined;
    d.link = null;
    this.lastFailure.set(d.target.address, reason);
    if (!d.self) {
      if (!d.wanted) this.#dials.delete(d.target.address);
      else this.#redial(d);
    }
    return d;
  }

  stop(): void {
    this.#stopped = true;
    for (const d of this.#dials.values()) clearTimeout(d.timer);
  }

  #dial(d: Dial): void {
    if (this.#stopped || d.self || !d.wanted || d.link) return;
    d.link = this.#open(d.target);
  }

  #redial(d: Dial): void {
    if (this.#stopped || d.self || !d.wanted) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** d.attempt);
    d.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(d.timer);
    d.timer = setTimeout(() => this.#dial(d), delay);
  }
}
