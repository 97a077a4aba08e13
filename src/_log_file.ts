/**
 * RotatingFile: the log file of `log.file`, rotated by size. Before a line would take the file
 * past `rotationSize`, `<path>` becomes `<path>.1`, `.1` becomes `.2`, ... and `.<count>` is
 * deleted, so the handler's files never hold more than rotationSize × (count + 1) bytes. A line
 * longer than rotationSize is cut to it (its line end kept). Writes are synchronous (a log line must not be lost
 * when the process exits right after). Owns the open file; only src/log.ts uses it.
 */

import { dirname } from "node:path";

const encoder = new TextEncoder();

/** See the file header. */
export class RotatingFile {
  readonly #path: string;
  readonly #max: number;
  readonly #count: number;
  #file: Deno.FsFile;
  #size: number;

  /** Opens (appends to) `path`, creating its directory. Throws when it cannot. */
  constructor(path: string, rotationSize: number, rotationCount: number) {
    this.#path = path;
    this.#max = rotationSize;
    this.#count = rotationCount;
    Deno.mkdirSync(dirname(path), { recursive: true });
    this.#file = Deno.openSync(path, { append: true, create: true });
    this.#size = this.#file.statSync().size;
  }

  /** Whether this file is `path` with these bounds (a reload keeps it open then). */
  sameAs(path: string, rotationSize: number, rotationCount: number): boolean {
    return path === this.#path && rotationSize === this.#max && rotationCount === this.#count;
  }

  /** Appends `line` (a trailing newline is added when missing). */
  writeLine(line: string): void {
    let bytes = encoder.encode(line.endsWith("\n") ? line : `${line}\n`);
    if (bytes.length > this.#max) {
      // Cut, keeping the line end so the next line starts on its own.
      const cut = new Uint8Array(this.#max);
      cut.set(bytes.subarray(0, this.#max - 1));
      cut[this.#max - 1] = 0x0a;
      bytes = cut;
    }
    if (this.#size > 0 && this.#size + bytes.length > this.#max) this.#rotate();
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
    this.#size += bytes.length;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }

  #rotate(): void {
    this.#file.close();
    try {
      Deno.removeSync(`${this.#path}.${this.#count}`);
    } catch {
      // Not there yet.
    }
    for (let i = this.#count - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
      } catch {
        // Fewer rotated files than the count so far.
      }
    }
    Deno.renameSync(this.#path, `${this.#path}.1`);
    this.#file = Deno.openSync(this.#path, { append: true, create: true, truncate: false });
    this.#size = 0;
  }
}
