/**
 * A consistent cut over several rings read by one consumer: for each ring, the position up to
 * which records were committed, all as of one instant. Owns nothing; it reads ring heads through
 * RingReader.committed().
 *
 * Why: a consumer that drains its rings one after another, each up to what was committed when
 * its drain began, can take a record from a later ring that was caused by a record committed on
 * an earlier ring after that ring's drain began (a peer's route, then a client's PUBLISH sent
 * after the SUBACK it made possible). Draining every ring only up to a cut taken before the
 * first drain keeps causes with their effects: whatever a taken record depends on was committed
 * before it, so before the cut. Heads read one after another are not one instant, so the cut is
 * read twice and accepted when nothing moved in between (bounded; a ring that keeps moving makes
 * a cut whose window is a few loads wide).
 */

import type { RingReader } from "./_ring_reader.ts";

/** Rounds of reads before a cut that is still moving is taken as it is. */
const MAX_ROUNDS = 4;

/**
 * Fills `out[i]` with `readers[i].committed()` (0 for a null reader), as of one instant when the
 * rings allow it. `out` is the caller's, reused pass after pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRing, RingReader, RingWriter } from "./ring.ts";
 * import { createDoorbell } from "./waiter.ts";
 * const ring = createRing(4096);
 * const reader = new RingReader(ring);
 * const writer = new RingWriter(ring, createDoorbell());
 * writer.write(1, new Uint8Array([1]));
 * writer.flush();
 * const until = [0, 0];
 * committedCut([reader, null], until);
 * writer.write(1, new Uint8Array([2]));
 * writer.flush(); // committed after the cut: left for a later drain
 * const got: number[] = [];
 * reader.drain((_kind, payload) => got.push(payload[0]!), Infinity, until[0]);
 * assert.deepEqual(got, [1]);
 * writer.close();
 * ```
 */
export function committedCut(readers: readonly (RingReader | null)[], out: number[]): void {
  for (let i = 0; i < readers.length; i++) out[i] = readers[i]?.committed() ?? 0;
  for (let round = 1; round < MAX_ROUNDS; round++) {
    let moved = false;
    for (let i = 0; i < readers.length; i++) {
      const now = readers[i]?.committed() ?? 0;
      if (now !== out[i]) {
        out[i] = now;
        moved = true;
      }
    }
    // Unchanged across a whole round: every ring held exactly this between the two reads of
    // its head, so all of them held it at the instant the first round ended.
    if (!moved) return;
  }
}
