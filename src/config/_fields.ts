/**
 * Leaf field schemas for schema.ts: integers, booleans, enums, durations, sizes, "host:port".
 * Private to src/config/. Each leaf accepts `unknown` and reports one issue whose message is the
 * "expected ..." text that ConfigError shows, so every error names what a key accepts in the
 * same words the YAML comments use. Pure (no knowledge of layers) except readableFile(), which
 * opens the file it names so that a missing one is a ConfigError naming its key and line, not a
 * crash of the isolate that reads it later.
 */

import { z } from "zod";

const MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const BYTES = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

/** Longest delay setTimeout honours (2^31 - 1 ms); longer timers would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses "500ms", "15s", "5m", "2h", "1d" (decimals allowed) or a number of milliseconds.
 * Returns whole milliseconds, or null when the value is not a duration.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./_fields.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseDuration("1.5s"), 1500);
 * assert.equal(parseDuration(250), 250);
 * assert.equal(parseDuration("soon"), null);
 * ```
 */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * MS[m[2] as keyof typeof MS]);
}

/**
 * Parses "512B", "64KB", "1MB", "1GB" (1024-based, case-insensitive) or a number of bytes.
 * Returns whole bytes, or null when the value is not a size.
 */
export function parseSize(value: unknown): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(value.trim());
  if (!m) return null;
  const unit = (m[2] ?? "b").toLowerCase() as keyof typeof BYTES;
  return Number(m[1]) * BYTES[unit];
}

/** Renders a byte count the way the YAML writes it ("4MB"), for error texts. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [["GB", BYTES.gb], ["MB", BYTES.mb], ["KB", BYTES.kb]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}

/** Builds a leaf: `check` returns the parsed value, or undefined to report `expected`. */
function leaf<T>(expected: string, check: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    const out = check(v);
    if (out === undefined) {
      ctx.addIssue({ code: "custom", message: expected, input: v });
      return z.NEVER;
    }
    return out;
  });
}

function range(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
}

/** Options shared by the numeric leaves. */
export interface NumberOptions {
  /** Accept the string "infinity" and store it as 0 (the key documents 0 = unlimited). */
  readonly infinity?: boolean;
  /** Accept "N/s" as well as N (EMQX writes rates that way). */
  readonly perSecond?: boolean;
}

/** An integer in [min, max]. */
export function int(min: number, max: number, opts: NumberOptions = {}) {
  const inf = opts.infinity ? ", or infinity" : "";
  return leaf(`an integer ${range(min, max)}${inf}`, (v) => {
    if (opts.infinity && v === "infinity") return 0;
    if (opts.perSecond && typeof v === "string" && /^\d+\/s$/.test(v)) v = Number.parseInt(v);
    return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
  });
}

/** Any finite number (fractions allowed) in [min, max]. */
export function num(min: number, max: number) {
  return leaf(`a number ${range(min, max)}`, (v) => {
    return typeof v === "number" && Number.isFinite(v) && v >= min && v <= max ? v : undefined;
  });
}

/** true or false; YAML's yes/no are strings in YAML 1.2 and are refused on purpose. */
export function bool() {
  return leaf("true or false", (v) => (typeof v === "boolean" ? v : undefined));
}

/** One of a fixed set of strings (or numbers, for max_qos_allowed). */
export function oneOf<const T extends readonly (string | number)[]>(values: T) {
  const text = values.map((v) => (typeof v === "string" ? `"${v}"` : String(v))).join(", ");
  return leaf(`one of ${text}`, (v) => values.find((x) => x === v) as T[number] | undefined);
}

/** A string matching `pattern`, described as `expected`. */
export function text(pattern: RegExp, expected: string) {
  return leaf(expected, (v) => (typeof v === "string" && pattern.test(v) ? v : undefined));
}

/** A path to a readable file, or "" for none; opened (and closed) at load to check it. */
export function readableFile() {
  return z.unknown().transform((v, ctx): string => {
    if (typeof v !== "string") {
      ctx.addIssue({ code: "custom", message: "a file path", input: v });
      return z.NEVER;
    }
    const why = v === "" ? null : unreadable(v);
    if (why !== null) {
      ctx.addIssue({ code: "custom", message: `a readable file (${why})`, input: v });
      return z.NEVER;
    }
    return v;
  });
}

function unreadable(path: string): string | null {
  let f: Deno.FsFile | undefined;
  try {
    f = Deno.openSync(path, { read: true });
    return f.statSync().isFile ? null : "not a regular file";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    f?.close();
  }
}

/** A duration in milliseconds within [minMs, maxMs]. */
export function duration(minMs: number, maxMs: number) {
  const expected = `a duration such as "500ms", "15s", "5m", "2h", "1d" or a number of ` +
    `milliseconds, ${formatDuration(minMs)}-${formatDuration(maxMs)}`;
  return leaf(expected, (v) => {
    const ms = parseDuration(v);
    return ms !== null && ms >= minMs && ms <= maxMs ? ms : undefined;
  });
}

function formatDuration(ms: number): string {
  if (ms >= MS.d) return `${Math.floor(ms / MS.d)}d`;
  if (ms >= MS.s && ms % MS.s === 0) return `${ms / MS.s}s`;
  return `${ms}ms`;
}

/** A size in bytes within [min, max]. */
export function size(min: number, max: number) {
  const expected = `a size such as "64KB", "1MB", "1GB" or a number of bytes, ` +
    `${formatSize(min)}-${formatSize(max)}`;
  return leaf(expected, (v) => {
    const n = parseSize(v);
    return n !== null && n >= min && n <= max ? n : undefined;
  });
}

/** A listen address, parsed once so the supervisor never re-parses it. */
export interface Bind {
  readonly bind: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "host:port", "[v6]:port" or a bare port (EMQX accepts `bind: 1883`, meaning all
 * IPv4 interfaces). Returns null when the text is not an address with a port 0-65535.
 */
export function parseBind(value: unknown): Bind | null {
  if (typeof value === "number") value = `0.0.0.0:${value}`;
  if (typeof value !== "string") return null;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const host = m[1] ?? m[2] ?? "";
  const port = Number(m[3]);
  if (host === "" || port > 65535) return null;
  return { bind: m[1] ? `[${host}]:${port}` : `${host}:${port}`, host, port };
}

/** The bind leaf. */
export function bind() {
  return leaf(`"host:port" with a port 0-65535`, (v) => parseBind(v) ?? undefined);
}
