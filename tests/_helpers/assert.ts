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

/** A readable rendering: Maps and Sets show their contents, bytes as arrays. */
function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x instanceof Uint8Array) return Array.from(x);
    if (x instanceof Map) return { Map: [...x.entries()] };
    if (x instanceof Set) return { Set: [...x.values()] };
    return x === undefined ? "undefined" : x;
  });
}

/**
 * Structural equality: same kind and contents. Maps compare their entries and Sets their values
 * (a Map never equals an object or a Set), byte arrays their bytes (a Buffer equals a Uint8Array
 * with the same bytes), other objects their own enumerable keys; primitives as Object.is.
 */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length &&
      a.every((x, i) => x === b[i]);
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !equal(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    for (const v of a) if (!b.has(v) && ![...b].some((w) => equal(v, w))) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b, k) &&
    equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** Fails unless actual and expected are structurally equal (see {@linkcode equal}). */
export function assertEquals<T>(actual: T, expected: T, msg: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(`${msg}\n  expected: ${show(expected)}\n  actual:   ${show(actual)}`);
  }
}

/** Fails unless v is one of allowed. */
export function assertOneOf<T>(actual: T, allowed: readonly T[], msg: string): void {
  if (!allowed.some((x) => equal(x, actual))) {
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
