/**
 * Checks that a log file can be written before a reload switches to it, so that a bad
 * `log.file.path` is refused with the key named and the running log stays as it was. Private to
 * src/supervisor/.
 */

import { dirname } from "node:path";

/** See the file header. */
export const RotatingFileProbe = {
  /** Throws naming `log.file.path` when `path` cannot be opened for appending. */
  check(path: string): void {
    try {
      Deno.mkdirSync(dirname(path), { recursive: true });
      Deno.openSync(path, { append: true, create: true }).close();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`log.file.path: cannot write ${path}: ${why}`);
    }
  },
};
