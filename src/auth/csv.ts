/**
 * A small RFC 4180 CSV reader for EMQX's bootstrap files (built-in users, banned). Owned by
 * src/auth/. Pure: the caller reads the file. Errors are SyntaxErrors naming the line.
 */

/** One data row with its 1-based line, as a map from header name to value. */
export interface CsvRow {
  readonly line: number;
  readonly values: Readonly<Record<string, string>>;
}

/**
 * Parses `text` whose first non-empty line is the header. `required` header names must appear.
 *
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseCsv("user_id,password\nu1,p1\n", ["user_id"])[0]?.values.password, "p1");
 * ```
 */
export function parseCsv(text: string, required: readonly string[], source = "CSV"): CsvRow[] {
  const lines = text.split(/\r?\n/);
  let header: string[] | null = null;
  const rows: CsvRow[] = [];
  for (const [i, raw] of lines.entries()) {
    if (raw.trim() === "") continue;
    const cells = splitLine(raw, i + 1, source);
    if (!header) {
      header = cells.map((c) => c.trim());
      for (const r of required) {
        if (!header.includes(r)) {
          throw new SyntaxError(
            `${source} line ${i + 1}: the header must name ${required.join(", ")}`,
          );
        }
      }
      continue;
    }
    if (cells.length !== header.length) {
      throw new SyntaxError(
        `${source} line ${i + 1}: expected ${header.length} fields, got ${cells.length}`,
      );
    }
    rows.push({
      line: i + 1,
      values: Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ""])),
    });
  }
  return rows;
}

function splitLine(line: string, n: number, source: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === "") quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  if (quoted) throw new SyntaxError(`${source} line ${n}: unterminated quoted field`);
  out.push(cur);
  return out;
}
