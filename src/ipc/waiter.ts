/**
 * Doorbells: one Int32 sequence word in its own SharedArrayBuffer that producers bump once per
 * committed batch, and that a consumer sleeps on with Atomics.waitAsync; beside it a "sleeping"
 * word, so that a producer notifies only when the consumer may be asleep. Owns only the doorbell
 * words; it knows nothing about rings or records. Code outside src/ipc/ uses these functions and
 * never touches the words itself.
 *
 * Why the sleeping word: an Atomics.notify that finds an async waiter posts a V8 task to the
 * waiter's isolate and wakes its event loop from another thread, and even one that finds none
 * takes V8's process-wide futex lock. At 5,000 QoS 1 messages a second notifies were 12% of the
 * supervisor's samples and 4% of each shard's (bench/README.md). A consumer that is still
 * working re-reads the sequence before it sleeps, so it needs no notify; only the first producer
 * after the consumer announced its sleep pays one.
 *
 * A wake-up is a hint, never a promise that the doorbell moved: Atomics.wait and waitAsync can end
 * with "ok" when no producer rang this doorbell (the soak test in waiter_test.ts saw a few in
 * 240,000 waits, in workers and in the main isolate, with several isolates in one process). So a
 * consumer loop reads the doorbell *before* checking its rings and waits again after every wake-up;
 * a batch committed between the check and the wait is never missed, and a spurious wake-up costs
 * one empty pass:
 *
 * ```ts ignore
 * for (;;) {
 *   const seen = readDoorbell(bell);
 *   if (reader.drain(handle) === 0) await waitDoorbell(bell, seen);
 * }
 * ```
 */

// A whole cache line, so the words do not share a line with anything else.
const DOORBELL_BYTES = 64;
/** Word indexes: the sequence producers bump, and the consumer's "I may be asleep" flag. */
const SEQ = 0;
const SLEEPING = 1;

// One Int32Array view per doorbell, made once: the loops of every isolate read and wait on their
// doorbell on each pass, and a fresh view each time was a steady source of garbage.
const words = new WeakMap<SharedArrayBuffer, Int32Array>();

function wordOf(doorbell: SharedArrayBuffer): Int32Array {
  let word = words.get(doorbell);
  if (word === undefined) words.set(doorbell, word = new Int32Array(doorbell, 0, 2));
  return word;
}

/** Creates a doorbell (one Int32 sequence word). Structured-clonable to workers. */
export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(DOORBELL_BYTES);
}

/**
 * Bumps the doorbell's sequence and wakes its sleeper if it may be asleep. Producers call it once
 * per batch.
 *
 * The sequence is bumped before the flag is read, and a consumer raises the flag before its wait
 * compares the sequence (both sequentially consistent): either this call sees the flag and
 * notifies, or the consumer's wait sees the new sequence and does not sleep. The flag is cleared
 * here (exchange), never by the consumer, so with several waiters on one doorbell a waiter that
 * timed out cannot hide another that still sleeps; a stale flag costs one needless notify.
 */
export function ringDoorbell(doorbell: SharedArrayBuffer): void {
  const word = wordOf(doorbell);
  Atomics.add(word, SEQ, 1);
  if (Atomics.load(word, SLEEPING) !== 0 && Atomics.exchange(word, SLEEPING, 0) !== 0) {
    Atomics.notify(word, SEQ);
  }
}

/** Reads the doorbell's sequence; pass it to waitDoorbell after checking the rings. */
export function readDoorbell(doorbell: SharedArrayBuffer): number {
  return Atomics.load(wordOf(doorbell), SEQ);
}

/**
 * Resolves once the doorbell rang after `seen` (the value read before checking the rings). It
 * resolves at once when the value already differs. With `timeoutMs` it also resolves when that
 * time passed without a ring (compare readDoorbell() with `seen` to tell which). A pending wait
 * without a timeout does not keep the event loop alive by itself (Deno does not count
 * Atomics.waitAsync); the timeout's timer does.
 */
export async function waitDoorbell(
  doorbell: SharedArrayBuffer,
  seen: number,
  timeoutMs?: number,
): Promise<void> {
  const word = wordOf(doorbell);
  if (Atomics.load(word, SEQ) !== seen) return;
  // Raised before the wait compares the sequence: see ringDoorbell.
  Atomics.store(word, SLEEPING, 1);
  if (timeoutMs === undefined) {
    const result = Atomics.waitAsync(word, SEQ, seen);
    if (result.async) await result.value;
    return;
  }
  const result = Atomics.waitAsync(word, SEQ, seen, timeoutMs);
  if (!result.async) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    result.value,
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

/**
 * Blocks the calling thread until the doorbell rang after `seen`, or `timeoutMs` passed. For
 * worker isolates only (the main isolate may not block), and only while nothing else needs that
 * isolate's event loop: timers, messages and I/O wait until the caller yields again.
 *
 * Why block at all: waking an isolate parked in Atomics.waitAsync goes through a V8 task and its
 * event loop, a futex wake does not. Measured here (bench/README.md), a round trip between the
 * main isolate and a worker cost 28 µs of CPU with both sides in waitAsync and 10 µs with the
 * worker in Atomics.wait.
 */
export function blockOnDoorbell(
  doorbell: SharedArrayBuffer,
  seen: number,
  timeoutMs: number,
): void {
  const word = wordOf(doorbell);
  if (Atomics.load(word, SEQ) !== seen) return;
  Atomics.store(word, SLEEPING, 1); // see ringDoorbell
  Atomics.wait(word, SEQ, seen, timeoutMs);
}
