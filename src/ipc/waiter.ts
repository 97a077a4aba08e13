/**
 * Doorbells: one Int32 sequence word in its own SharedArrayBuffer that producers bump and notify
 * once per committed batch, and that a consumer sleeps on with Atomics.waitAsync. Owns only the
 * doorbell word; it knows nothing about rings or records. Code outside src/ipc/ uses these
 * functions and never touches the word itself.
 *
 * A consumer loop reads the doorbell *before* checking its rings, then waits for it to move past
 * that value, so a batch committed between the check and the wait is never missed:
 *
 * ```ts ignore
 * for (;;) {
 *   const seen = readDoorbell(bell);
 *   if (reader.drain(handle) === 0) await waitDoorbell(bell, seen);
 * }
 * ```
 */

// A whole cache line, so the word does not share a line with anything else.
const DOORBELL_BYTES = 64;

// One Int32Array view per doorbell, made once: the loops of every isolate read and wait on their
// doorbell on each pass, and a fresh view each time was a steady source of garbage.
const words = new WeakMap<SharedArrayBuffer, Int32Array>();

function wordOf(doorbell: SharedArrayBuffer): Int32Array {
  let word = words.get(doorbell);
  if (word === undefined) words.set(doorbell, word = new Int32Array(doorbell, 0, 1));
  return word;
}

/** Creates a doorbell (one Int32 sequence word). Structured-clonable to workers. */
export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(DOORBELL_BYTES);
}

/** Bumps the doorbell's sequence and wakes its sleeper. Producers call it once per batch. */
export function ringDoorbell(doorbell: SharedArrayBuffer): void {
  const word = wordOf(doorbell);
  Atomics.add(word, 0, 1);
  Atomics.notify(word, 0);
}

/** Reads the doorbell's sequence; pass it to waitDoorbell after checking the rings. */
export function readDoorbell(doorbell: SharedArrayBuffer): number {
  return Atomics.load(wordOf(doorbell), 0);
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
  if (timeoutMs === undefined) {
    const result = Atomics.waitAsync(word, 0, seen);
    if (result.async) await result.value;
    return;
  }
  const result = Atomics.waitAsync(word, 0, seen, timeoutMs);
  if (!result.async) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    result.value,
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}
