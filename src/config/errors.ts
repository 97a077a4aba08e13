/**
 * ConfigError: the one error loadConfig() throws for bad configuration. Owned by src/config/.
 * It carries what an operator needs to fix the input (key, source, line, what was expected)
 * and nothing about how loading works; load.ts decides the values, this file only words them.
 */

/** What a ConfigError is built from. */
export interface ConfigErrorInit {
  /** Dotted snake_case key path, e.g. "listeners.tcp.default.bind"; "" for the whole input. */
  readonly key: string;
  /** 1-based line in a file source, or null (environment, flags, unknown). */
  readonly line: number | null;
  /** A file path, "environment CULEX__X", or "flag --set" (also "flag --shards" ...). */
  readonly source: string;
  /** What the key accepts, in the words of config/culex.yaml. */
  readonly expected: string;
  /** What was found, already rendered (e.g. `"abc"`); omitted when there is nothing to show. */
  readonly got?: string;
}

/**
 * Invalid configuration: names the key, where it came from and what was expected. The CLI
 * prints `message` and exits 2 before any listener opens.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const e = new ConfigError({
 *   key: "listeners.tcp.default.bind",
 *   line: 12,
 *   source: "culex.yaml",
 *   expected: `"host:port" with a port 0-65535`,
 *   got: `"abc"`,
 * });
 * assert.match(e.message, /listeners\.tcp\.default\.bind at culex\.yaml line 12/);
 * ```
 */
export class ConfigError extends Error {
  /** Dotted key path ("" when the error is about the whole document, e.g. a syntax error). */
  readonly key: string;
  /** 1-based line number in the file, or null. */
  readonly line: number | null;
  /** File path, "environment CULEX__X" or "flag --set". */
  readonly source: string;
  /** What the key accepts. */
  readonly expected: string;

  constructor(init: ConfigErrorInit) {
    super(formatMessage(init));
    this.name = "ConfigError";
    this.key = init.key;
    this.line = init.line;
    this.source = init.source;
    this.expected = init.expected;
  }
}

/** True for sources that are not files: they have no lines and read "from <source>". */
function isNonFileSource(source: string): boolean {
  return source.startsWith("environment ") || source.startsWith("flag ");
}

function formatMessage(init: ConfigErrorInit): string {
  const { key, line, source } = init;
  let where: string;
  if (isNonFileSource(source)) where = key ? `from ${source}` : source;
  else if (line !== null) where = key ? `at ${source} line ${line}` : `${source} line ${line}`;
  else where = key ? `in ${source}` : source;
  const subject = key ? `${key} ${where}` : where;
  const got = init.got === undefined ? "" : `, got ${init.got}`;
  return `Invalid config: ${subject}: expected ${init.expected}${got}`;
}
