/**
 * Test helper: the few assertions the integration suites use (the suite runs offline, so it
 * carries these instead of importing @std/assert). Pure; no I/O.
 */

/** Error thrown by a failed assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Fails with msg unless cond is truthy. */
export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => x instanceof Uint8Array ? Array.from(x) : x);
}

/** Fails unless actual and expected have the same JSON rendering. */
export function assertEquals<T>(actual: T, expected: T, msg: string): void {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) throw new AssertionError(`${msg}\n  expected: ${e}\n  actual:   ${a}`);
}

/** Fails unless v is one of allowed. */
export function assertOneOf<T>(actual: T, allowed: readonly T[], msg: string): void {
  if (!allowed.some((x) => show(x) === show(actual))) {
    throw new AssertionError(
      `${msg}\n  expected one of: ${show(allowed)}\n  actual: ${show(actual)}`,
    );
  }
}

/** Fails unless the promise rejects (within the bound its producer sets). Returns the error. */
export async function assertRejects(p: Promise<unknown>, msg: string): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  throw new AssertionError(`${msg}: expected a rejection, but it resolved`);
}
