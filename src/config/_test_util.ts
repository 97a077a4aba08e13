/**
 * Helpers for src/config/ tests: node:assert wrappers, a temp YAML file, and catching the
 * ConfigError a load throws. Test-only; not exported from mod.ts.
 */

import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";

// jsr:@std/assert is not reachable offline here; node:assert gives the same checks.
export function assertEquals(actual: unknown, expected: unknown): void {
  assert.deepEqual(actual, expected);
}
export function assertMatch(actual: string, pattern: RegExp): void {
  assert.match(actual, pattern);
}

/** Writes `text` to a temp .yaml file, runs `fn` with its path, removes the file. */
export function withFile<T>(text: string, fn: (path: string) => T): T {
  const path = Deno.makeTempFileSync({ suffix: ".yaml" });
  try {
    Deno.writeTextFileSync(path, text);
    return fn(path);
  } finally {
    Deno.removeSync(path);
  }
}

/** Runs `fn`, expecting it to throw a ConfigError, and returns that error. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}
