/**
 * Run-time configuration changes: SIGHUP (main.ts) and the HTTP API's `PUT /configs` call
 * reloadConfig() / applyConfig(). A new Config is compared with the running one key by key;
 * the keys that can change without a restart are applied to the supervisor and, through the
 * `config.update` control method, to every shard, without closing a connection; the others are
 * reported as needing a restart and keep their running values. A config that does not load
 * (schema, YAML, an unreadable or invalid ACL file, a log file that cannot be opened) is logged
 * with its key and line and changes nothing. Owns the rules of what is live; the supervisor
 * owns applying it.
 *
 * Live keys: `mqtt.*` and `zones.*` (new connections and sessions; open ones keep what they
 * negotiated), `listeners.<type>.<name>.messages_rate` and `.bytes_rate` (new connections),
 * `authentication` (rebuilt), `authorization.*` (rebuilt; an ACL file is re-read on every
 * reload, reported as `authorization.sources`), `log.*`. TLS listeners re-read their
 * certificate files on every reload (their paths need a restart).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { parseAclFile, readBootstrapFile } from "../auth/mod.ts";
import type { Config } from "../config/mod.ts";
import { RotatingFileProbe } from "./_log_probe.ts";
import { checkTlsFiles } from "./_tls_files.ts";

const log = getLogger(["culex", "supervisor"]);

/** What a reload did: keys (EMQX names) applied, and keys that keep their old value. */
export interface ReloadResult {
  readonly applied: string[];
  readonly restartRequired: string[];
}

/** The running node as reload sees it (the supervisor implements it). */
export interface ReloadTarget {
  /** The configuration in effect. */
  readonly config: Config;
  /** Puts `next` (the running config with the live keys changed) into effect everywhere. */
  applyLive(next: Config): Promise<void>;
}

type Path = readonly string[];

/**
 * Re-reads the configuration with `load` (the file, environment and flags the node started
 * with) and applies it. Throws (after logging it) when it does not load; then nothing changed.
 *
 * @example
 * ```ts ignore
 * const result = await reloadConfig(node, () => loadConfig(startOptions));
 * // { applied: ["mqtt.max_inflight"], restartRequired: ["listeners.tcp.default.bind"] }
 * ```
 */
export async function reloadConfig(
  target: ReloadTarget,
  load: () => Config,
): Promise<ReloadResult> {
  let next: Config;
  try {
    next = load();
    validateFiles(next);
  } catch (err) {
    log.error("Reload refused, nothing changed: {error}", {
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
  return await applyConfig(target, next);
}

/**
 * Applies `next` to the running node: its live keys take effect, the others are reported.
 * `next` must be a loaded (validated) Config; its files are checked here again.
 */
export async function applyConfig(target: ReloadTarget, next: Config): Promise<ReloadResult> {
  validateFiles(next);
  const current = target.config;
  const changed = changedPaths(current, next);
  const live = changed.filter(isLive);
  const effective = live.reduce((c, path) => withValue(c, path, valueAt(next, path)), current);
  await target.applyLive(effective);
  const applied = unique(live.map(keyName));
  if (hasAclFile(next) && !applied.includes("authorization.sources")) {
    applied.push("authorization.sources");
  }
  const restartRequired = unique(changed.filter((p) => !isLive(p)).map(keyName));
  log.info("Configuration reloaded; applied: {applied}; need a restart: {restart}", {
    applied: applied.join(", ") || "nothing",
    restart: restartRequired.join(", ") || "nothing",
  });
  return { applied, restartRequired };
}

/** Throws when an ACL file does not parse or the log file cannot be opened. */
function validateFiles(next: Config): void {
  checkConfigFiles(next);
  if (next.log.file.enable) RotatingFileProbe.check(next.log.file.path);
}

/**
 * Throws an Error naming the key, the file and its line when an operator's ACL file (or inline
 * `rules`) or a built-in authenticator's bootstrap CSV does not parse, or a TLS file in use
 * cannot be read. At start (main.ts) this is a config error, exit 2, instead of an uncaught
 * SyntaxError in every shard worker or a listener's stack trace; on reload it refuses the reload.
 */
export function checkConfigFiles(config: Config): void {
  checkTlsFiles(config);
  config.authentication.forEach((a, i) => {
    if (!a.enable || a.mechanism !== "password_based" || a.backend !== "built_in_database") return;
    if (a.bootstrapFile === "") return;
    try {
      readBootstrapFile(a);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`authentication.${i}.bootstrap_file: ${why}`);
    }
  });
  config.authorization.sources.forEach((s, i) => {
    if (!s.enable || s.type !== "file" || (s.rules === "" && s.path === "")) return;
    const key = `authorization.sources.${i}.${s.rules !== "" ? "rules" : "path"}`;
    try {
      parseAclFile(s.rules !== "" ? s.rules : Deno.readTextFileSync(s.path));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`${key}: ${s.rules !== "" ? "" : `${s.path}: `}${why}`);
    }
  });
}

/** An operator's ACL file (not the embedded default, which cannot change). */
function hasAclFile(c: Config): boolean {
  return c.authorization.sources.some((s) => s.enable && s.type === "file" && s.path !== "");
}

/** Whether a change at `path` (Config's camelCase path) can be applied at run time. */
function isLive(path: Path): boolean {
  const [top, , , leaf] = path;
  switch (top) {
    case "mqtt":
    case "zones":
    case "authentication":
    case "authorization":
    case "log":
      return true;
    case "listeners":
      return leaf === "messagesRate" || leaf === "bytesRate";
    default:
      return false;
  }
}

/** The paths whose values differ (lists compare whole; `warnings` is not configuration). */
export function changedPaths(a: unknown, b: unknown, path: string[] = []): string[][] {
  if (path.length === 1 && path[0] === "warnings") return [];
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: string[][] = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      out.push(...changedPaths(a[k], b[k], [...path, k]));
    }
    return out;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

/** EMQX's dotted snake_case name of a Config path (user-chosen names kept as written). */
function keyName(path: Path): string {
  const named = new Set<number>();
  if (path[0] === "listeners") named.add(2);
  if (path[0] === "zones") named.add(1);
  const parts = path.map((seg, i) =>
    named.has(i) ? seg : seg.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  );
  // A listener's host and port come from its `bind`.
  const last = parts.length - 1;
  if (parts[0] === "listeners" && (parts[last] === "host" || parts[last] === "port")) {
    parts[last] = "bind";
  }
  return parts.join(".");
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function valueAt(v: unknown, path: Path): unknown {
  let node = v;
  for (const seg of path) node = isPlainObject(node) ? node[seg] : undefined;
  return node;
}

/** A copy of `c` with the value at `path` replaced (copies along the path only). */
function withValue<T>(c: T, path: Path, value: unknown): T {
  if (path.length === 0) return value as T;
  const [head, ...rest] = path as [string, ...string[]];
  const obj: Record<string, unknown> = isPlainObject(c) ? c : {};
  const out: Record<string, unknown> = { ...obj };
  if (value === undefined && rest.length === 0) delete out[head];
  else out[head] = withValue(obj[head], rest, value);
  return out as T;
}
