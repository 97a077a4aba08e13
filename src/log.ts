/**
 * Logging setup with @logtape/logtape: EMQX's two handlers, the console (`log.console`) and a
 * size-rotated file (`log.file`), text or JSON lines, one category per folder under "culex"
 * (["culex", "supervisor"], ["culex", "shard"], ...). Callable in the main isolate and again in
 * every worker (each isolate has its own logtape state). Only the main isolate writes the file:
 * a shard formats its records and forwards the lines (setupShardLogging), so one writer owns
 * rotation. Owns the sinks and the open log file, nothing else; reads no config files.
 */

import {
  compareLogLevel,
  configure,
  getConsoleSink,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import type { LogConfig, LogLevel } from "./config/mod.ts";
import { RotatingFile } from "./_log_file.ts";

/** Line formats: readable text, or one JSON object per line for log shippers. */
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

function formatterOf(format: LogFormat): (record: LogRecord) => string {
  return format === "json" ? jsonFormatter : textFormatter;
}

/** The main isolate's open log file (null while log.file is off). */
let file: RotatingFile | null = null;

/** A sink that passes records of `level` and above only. */
function atLeast(level: LogLevel, sink: Sink): Sink {
  return (record) => {
    if (compareLogLevel(record.level, level) >= 0) sink(record);
  };
}

function lowest(a: LogLevel, b: LogLevel): LogLevel {
  return compareLogLevel(a, b) <= 0 ? a : b;
}

async function install(sinks: Record<string, Sink>, level: LogLevel): Promise<void> {
  const names = Object.keys(sinks);
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["culex"], sinks: names, lowestLevel: level },
      // logtape reports its own problems (a sink that throws) on its meta logger; keep those,
      // but not its informational notice on every configure().
      { category: ["logtape", "meta"], sinks: names, lowestLevel: "warning" },
    ],
  });
}

/**
 * Configures this isolate's console only: records of `level` and above from every "culex"
 * category as `format` lines. Idempotent: calling it again replaces the previous setup. Used by
 * workers that have no file to write (the store worker) and by tests.
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
  await install({ console: getConsoleSink({ formatter: formatterOf(format) }) }, level);
}

/**
 * Configures the main isolate from `log.*`: the console handler and the rotated file handler,
 * each with its own level. Calling it again (a reload) changes levels in place; the file is
 * reopened only when its path or bounds changed. Throws when the file cannot be opened.
 *
 * @example
 * ```ts ignore
 * await setupNodeLogging(config.log);
 * ```
 */
export async function setupNodeLogging(log: LogConfig): Promise<void> {
  const format = formatterOf(log.format);
  const sinks: Record<string, Sink> = {};
  let level: LogLevel = "error";
  if (log.console.enable) {
    sinks.console = atLeast(log.console.level, getConsoleSink({ formatter: format }));
    level = lowest(level, log.console.level);
  }
  if (log.file.enable) {
    const { path, rotationSize, rotationCount } = log.file;
    if (!file || !file.sameAs(path, rotationSize, rotationCount)) {
      file?.close();
      file = null;
      file = new RotatingFile(path, rotationSize, rotationCount);
    }
    const open = file;
    sinks.file = atLeast(log.file.level, (record) => open.writeLine(format(record)));
    level = lowest(level, log.file.level);
  } else {
    file?.close();
    file = null;
  }
  await install(sinks, level);
}

/** A shard's way to the main isolate's file (kept for reconfiguring at run time). */
let forwardLine: (line: string) => void = () => {};

/**
 * Configures a shard worker from `log.*`: the console as in the main isolate, and the file
 * handler's lines handed to `forward` (the worker posts them to the main isolate, which writes
 * them with writeForwardedLine()). Without `forward`, the one given before is kept (a reload).
 */
export async function setupShardLogging(
  log: LogConfig,
  forward?: (line: string) => void,
): Promise<void> {
  if (forward) forwardLine = forward;
  const send = forwardLine;
  const format = formatterOf(log.format);
  const sinks: Record<string, Sink> = {};
  let level: LogLevel = "error";
  if (log.console.enable) {
    sinks.console = atLeast(log.console.level, getConsoleSink({ formatter: format }));
    level = lowest(level, log.console.level);
  }
  if (log.file.enable) {
    sinks.file = atLeast(log.file.level, (record) => send(format(record)));
    level = lowest(level, log.file.level);
  }
  await install(sinks, level);
}

/** Main isolate: writes a line a shard forwarded (dropped while log.file is off). */
export function writeForwardedLine(line: string): void {
  file?.writeLine(line);
}

/** Main isolate: closes the log file (at exit). */
export function closeLogFile(): void {
  file?.close();
  file = null;
}

/**
 * The logger of one folder: category ["culex", folder], e.g. getLog("supervisor"). Loggers are
 * cheap handles; taking one before setupLogging() ran is fine (records are dropped until then).
 */
export function getLog(folder: string): Logger {
  return getLogger(["culex", folder]);
}
