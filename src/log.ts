/**
 * Logging setup with @logtape/logtape: one console sink, text or JSON lines, one category per
 * folder under "culex" (["culex", "supervisor"], ["culex", "shard"], ...). Owns nothing but the
 * sink configuration; callable in the main isolate and again in every worker (each isolate has
 * its own logtape state). Must not read config files or hold state beyond the sinks.
 */

import {
  configure,
  getConsoleSink,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
} from "@logtape/logtape";
import type { LogLevel } from "./config/mod.ts";

/** Console line formats: readable text, or one JSON object per line for log shippers. */
export type LogFormat = "text" | "json";

// `2026-11-26T10:00:00.000Z INFO culex.supervisor: message`: RFC 3339 UTC, full level name,
// dotted category, so that lines sort and grep the same way in every isolate.
const textFormatter = getTextFormatter({
  timestamp: "rfc3339",
  level: "FULL",
  category: ".",
  value: "bare",
  format: ({ timestamp, level, category, message }) =>
    `${timestamp ?? ""} ${level} ${category}: ${message}`,
});

const jsonLines = getJsonLinesFormatter({ categorySeparator: ".", properties: "flatten" });

/**
 * JSON lines whose "message" renders string values bare, as the text lines do, so that a line
 * such as `Listener tcp:default listening on 127.0.0.1:1883` reads the same in both formats.
 */
function jsonFormatter(record: LogRecord): string {
  let message = "";
  for (const [i, part] of record.message.entries()) {
    message += i % 2 === 0 || typeof part === "string"
      ? String(part)
      : Deno.inspect(part, { colors: false, compact: true, breakLength: Infinity });
  }
  // A one-part message is emitted as is by logtape's formatter, without re-quoting.
  return jsonLines({ ...record, message: [message] });
}

/**
 * Configures logging for this isolate: records of `level` and above from every "culex"
 * category go to the console as `format` lines. Idempotent: calling it again (same or other
 * arguments) replaces the previous setup instead of failing as logtape's configure() would.
 *
 * @example
 * ```ts ignore
 * import { getLog, setupLogging } from "./log.ts";
 * await setupLogging("info", "text");
 * getLog("supervisor").info("Listener tcp:default listening on {address}", {
 *   address: "127.0.0.1:1883",
 * });
 * ```
 */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  const formatter = format === "json" ? jsonFormatter : textFormatter;
  await configure({
    reset: true,
    sinks: { console: getConsoleSink({ formatter }) },
    loggers: [
      { category: ["culex"], sinks: ["console"], lowestLevel: level },
      // logtape reports its own problems (a sink that throws) on its meta logger; keep those,
      // but not its informational notice on every configure().
      { category: ["logtape", "meta"], sinks: ["console"], lowestLevel: "warning" },
    ],
  });
}

/**
 * The logger of one folder: category ["culex", folder], e.g. getLog("supervisor"). Loggers are
 * cheap handles; taking one before setupLogging() ran is fine (records are dropped until then).
 */
export function getLog(folder: string): Logger {
  return getLogger(["culex", folder]);
}
