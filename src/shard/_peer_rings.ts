/**
 * PeerRings: one shard's ends of the rings to and from every other shard. Writes peer records,
 * drains what the peers committed, says when everything written is in its ring, and counts the
 * congested peer rings so the shard can pause its client input while any is full (records are
 * parked, never dropped). Private to src/shard/; owns the peer ring readers and writers, and is
 * rebuilt in place when a peer restarts with new rings.
 */

import { RingReader, RingWriter, type ShardRings } from "../ipc/mod.ts";

/** See the file header. */
export class PeerRings {
  #fromPeers: (RingReader | null)[] = [];
  #toPeers: (RingWriter | null)[] = [];
  #congestedPeers = 0;
  /** The first peer ring filled (true) or the last one drained (false). */
  readonly #onPause: (on: boolean) => void;

  constructor(rings: ShardRings, onPause: (on: boolean) => void) {
    this.#onPause = onPause;
    this.#connectPeers(rings);
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
   * Takes what each peer committed before its drain started (a busy peer cannot starve the
   * others); returns the number of records.
   */
  drain(onRecord: (from: number, kind: number, payload: Uint8Array) => void): number {
    let work = 0;
    for (let j = 0; j < this.#fromPeers.length; j++) {
      const r = this.#fromPeers[j];
      if (r) work += r.drain((kind, payload) => onRecord(j, kind, payload));
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
