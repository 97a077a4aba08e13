/**
 * PeerRings: one shard's ends of the rings to and from every other shard. Writes peer records,
 * drains what the peers committed, says when everything written is in its ring, and counts the
 * congested peer rings so the shard can pause its client input while any is full (records are
 * parked, never dropped). Takes each pass's cut over the peer rings and the supervisor's ring
 * (ipc/cut.ts: why). Private to src/shard/; owns the peer ring readers and writers, and is
 * rebuilt in place when a peer restarts with new rings.
 */

import { committedCut, RingReader, RingWriter, type ShardRings } from "../ipc/mod.ts";

/** See the file header. */
export class PeerRings {
  #fromPeers: (RingReader | null)[] = [];
  #toPeers: (RingWriter | null)[] = [];
  #congestedPeers = 0;
  /** The peer readers, then the supervisor's: what a pass's cut is read over. */
  #inbound: (RingReader | null)[] = [];
  /** Per ring of #inbound, where this pass's drain stops (committedCut). */
  #until: number[] = [];
  /** The supervisor's ring into this shard: read by the shard, only cut here. */
  readonly #fromSupervisor: RingReader;
  /** The first peer ring filled (true) or the last one drained (false). */
  readonly #onPause: (on: boolean) => void;

  constructor(rings: ShardRings, fromSupervisor: RingReader, onPause: (on: boolean) => void) {
    this.#fromSupervisor = fromSupervisor;
    this.#onPause = onPause;
    this.#connectPeers(rings);
  }

  /**
   * Reads this pass's cut: where every peer ring's drain() stops, all as of one instant; returns
   * where the supervisor ring's drain stops.
   */
  cut(): number {
    committedCut(this.#inbound, this.#until);
    return this.#until[this.#fromPeers.length] ?? 0;
  }

  /** True while some peer ring is full. */
  get congested(): boolean {
    return this.#congestedPeers !== 0;
  }

  /** Another shard was restarted: drop the old writers and take the new rings. */
  replace(rings: ShardRings): void {
    for (const w of this.#toPeers) w?.close();
    this.#connectPeers(rings);
  }

  /** Writes one record to shard `shard` (committed at the next flush). */
  send(shard: number, kind: number, payload: Uint8Array | readonly Uint8Array[]): void {
    this.#toPeers[shard]?.write(kind, payload);
  }

  /** Commits every peer ring. */
  flush(): void {
    for (const w of this.#toPeers) w?.flush();
  }

  /**
   * Takes what each peer committed up to the last cut() (a busy peer cannot starve the others);
   * returns the number of records.
   */
  drain(onRecord: (from: number, kind: number, payload: Uint8Array) => void): number {
    let work = 0;
    for (let j = 0; j < this.#fromPeers.length; j++) {
      const r = this.#fromPeers[j];
      if (r) {
        work += r.drain((kind, payload) => onRecord(j, kind, payload), Infinity, this.#until[j]);
      }
    }
    return work;
  }

  /** Null when every record written is in its ring; otherwise resolves once they are. */
  whenCommitted(): Promise<void> | null {
    let waits: Promise<void>[] | null = null;
    for (const w of this.#toPeers) {
      const p = w?.whenCommitted();
      if (p) (waits ??= []).push(p);
    }
    return waits === null ? null : Promise.all(waits).then(() => {});
  }

  #connectPeers(rings: ShardRings): void {
    this.#fromPeers = rings.fromPeers.map((r) => (r ? new RingReader(r) : null));
    this.#inbound = [...this.#fromPeers, this.#fromSupervisor];
    this.#until = this.#inbound.map(() => 0);
    this.#toPeers = rings.toPeers.map((r, j) => {
      if (!r) return null;
      const doorbell = rings.peerDoorbells[j];
      if (!doorbell) return null;
      const w = new RingWriter(r, doorbell);
      w.onCongestion = (on) => this.#peerCongestion(on);
      return w;
    });
  }

  /** A full peer ring pauses this shard's client input until it drains (never drops). */
  #peerCongestion(on: boolean): void {
    const before = this.#congestedPeers;
    this.#congestedPeers += on ? 1 : -1;
    if ((before === 0) !== (this.#congestedPeers === 0)) this.#onPause(on);
  }
}
