/**
 * Memory layout of a ring: header word indexes, size limits, allocation and the typed views over
 * one ring's SharedArrayBuffer. Private to src/ipc/; ring.ts is the only user and re-exports
 * createRing and RingBuffers.
 */

// Header words. head, tail and the waiting pair each get their own cache line so the two
// isolates do not invalidate each other's line on every store.
export const HEAD = 0;
export const TAIL = 16;
/** 1 while the writer waits for space; the reader clears it when it notifies. */
export const WAITING = 32;
/** Sequence the reader bumps and notifies when it freed space for a waiting writer. */
export const SPACE = 33;
const HEADER_BYTES = 192;

const MIN_CAPACITY = 4096;
const MAX_CAPACITY = 2 ** 30;

/** The shared memory of one ring. Structured-clonable: post it to the other isolate. */
export interface RingBuffers {
  sab: SharedArrayBuffer;
  capacity: number;
}

/**
 * Allocates a ring with `capacity` data bytes (a power of two, at least 4096).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const ring = createRing(65536);
 * assert.equal(ring.capacity, 65536);
 * ```
 */
export function createRing(capacity: number): RingBuffers {
  if (
    !Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot create ring of ${capacity} bytes: ` +
        `capacity must be a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]`,
    );
  }
  return { sab: new SharedArrayBuffer(HEADER_BYTES + capacity), capacity };
}

/** Header words and data area of `ring`; checks the buffer matches the capacity. */
export function viewsOf(ring: RingBuffers): { header: Int32Array; data: Uint8Array } {
  if (ring.sab.byteLength !== HEADER_BYTES + ring.capacity) {
    throw new TypeError(`Cannot use ring: buffer of ${ring.sab.byteLength} bytes does not match`);
  }
  return {
    header: new Int32Array(ring.sab, 0, HEADER_BYTES / 4),
    data: new Uint8Array(ring.sab, HEADER_BYTES, ring.capacity),
  };
}
