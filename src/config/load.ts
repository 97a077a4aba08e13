/**
 * loadConfig(): reads the embedded default, the --config file, CULEX__* environment variables
 * and flags, merges them (embedded < file < env < flags), validates the result against
 * schema.ts and returns a deeply frozen Config. Owned by src/config/. It may read files and the
 * given env map, but must not open ports, start workers or log: the CLI decides what to do
 * with a ConfigError (print it, exit 2) before anything listens.
 */

import type { z } from "zod";
import { ConfigError } from "./errors.ts";
import { configSchema, knownKeys } from "./schema.ts";
import { retainerWarnings } from "./_schema_store.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Config } from "./types.ts";
import { isMapping, lineOf, parseScalar, parseYamlSource, type YamlSource } from "./_yaml.ts";

/** Inputs of loadConfig(); every field is optional. */
export interface LoadOptions {
  /** Path of a YAML file layered over the embedded default (`--config`). */
  readonly file?: string;
  /** Environment to read CULEX__* variables from (the CLI passes Deno.env.toObject()). */
  readonly env?: Readonly<Record<string, string>>;
  /** `--set key=value` arguments, applied in order. */
  readonly sets?: readonly string[];
  /** `--shards N`: node.shards, over everything else. */
  readonly shards?: number;
  /** `--node-name NAME`: node.name, over everything else. */
  readonly nodeName?: string;
}

const ENV_PREFIX = "CULEX__";
const EMBEDDED_SOURCE = "embedded config/culex.yaml";

/** One layer of configuration: a YAML file, or a single value from the environment or a flag. */
interface Layer {
  readonly source: string;
  readonly value: Record<string, unknown>;
  /** Set for YAML layers, so errors can point at a line. */
  readonly yaml?: YamlSource;
}

/**
 * Loads, merges and validates the configuration. Throws ConfigError (with key, line, source
 * and what was expected) on any invalid input; never returns a partially valid Config.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./load.ts";
 * import assert from "node:assert/strict";
 * const config = loadConfig({ sets: ["listeners.tcp.default.bind=127.0.0.1:0"] });
 * assert.equal(config.listeners.tcp.default?.port, 0);
 * ```
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const layers: Layer[] = [yamlLayer(readEmbedded(), EMBEDDED_SOURCE)];
  if (opts.file !== undefined) layers.push(yamlLayer(readFile(opts.file), opts.file));
  if (opts.env) layers.push(...envLayers(opts.env));
  for (const set of opts.sets ?? []) layers.push(setLayer(set));
  if (opts.shards !== undefined) {
    layers.push(pathLayer(["node", "shards"], opts.shards, "flag --shards"));
  }
  if (opts.nodeName !== undefined) {
    layers.push(pathLayer(["node", "name"], opts.nodeName, "flag --node-name"));
  }

  let merged: unknown = {};
  for (const layer of layers) merged = merge(merged, layer.value);
  const result = configSchema.safeParse(merged);
  if (!result.success) throw toConfigError(result.error.issues, layers, merged);

  const config = result.data;
  // node.shards 0 means "one per core"; the Config type promises a resolved count >= 1.
  const shards = config.node.shards || Math.max(1, navigator.hardwareConcurrency || 1);
  // "data/ beside the config": relative to the --config file, else to the current directory.
  const base = opts.file !== undefined ? dirname(resolve(opts.file)) : Deno.cwd();
  const d = config.node.dataDir;
  const dataDir = isAbsolute(d) ? d : resolve(base, d);
  const logPath = isAbsolute(config.log.file.path)
    ? config.log.file.path
    : resolve(base, config.log.file.path);
  const log = { ...config.log, file: { ...config.log.file, path: logPath } };
  const warnings = retainerWarnings(merged);
  return deepFreeze({ ...config, node: { ...config.node, shards, dataDir }, log, warnings });
}

function readEmbedded(): string {
  // A URL relative to this module, so `deno compile --include config/` finds it in the binary.
  return Deno.readTextFileSync(new URL("../../config/culex.yaml", import.meta.url));
}

function readFile(file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    const got = e instanceof Error ? e.message : String(e);
    throw new ConfigError({ key: "", line: null, source: file, expected: "a readable file", got });
  }
}

function yamlLayer(text: string, source: string): Layer {
  const yaml = parseYamlSource(text, source);
  return { source, value: yaml.value, yaml };
}

/** A layer holding one value at `path`. */
function pathLayer(path: readonly string[], value: unknown, source: string): Layer {
  let out: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) out = { [path[i] as string]: out };
  return { source, value: out as Record<string, unknown> };
}

/** CULEX__A__B_C=v becomes a.b_c = v; sorted so that the result does not depend on env order. */
function envLayers(env: Readonly<Record<string, string>>): Layer[] {
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX)).sort();
  return names.map((name) => {
    const source = `environment ${name}`;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split("__");
    if (path.some((seg) => seg === "")) {
      throw new ConfigError({
        key: path.join("."),
        line: null,
        source,
        expected: "a name like CULEX__LISTENERS__TCP__DEFAULT__BIND (levels joined by __)",
      });
    }
    return pathLayer(path, parseScalar(env[name] ?? ""), source);
  });
}

function setLayer(arg: string): Layer {
  const source = "flag --set";
  const eq = arg.indexOf("=");
  const path = eq > 0 ? arg.slice(0, eq).trim().split(".") : [];
  if (path.length === 0 || path.some((seg) => seg === "")) {
    throw new ConfigError({
      key: "",
      line: null,
      source,
      expected: "key=value, e.g. listeners.tcp.default.bind=0.0.0.0:1884",
      got: JSON.stringify(arg),
    });
  }
  return pathLayer(path, parseScalar(arg.slice(eq + 1)), source);
}

/**
 * Deep merge where mappings merge key by key and anything else replaces. A null (a key left
 * empty in YAML, or "null"/"~" from a flag) means "not set here" and keeps the lower value.
 */
function merge(base: unknown, over: unknown): unknown {
  if (over === null || over === undefined) return base;
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/** How many leading segments of `path` the value defines (non-null). */
function depthIn(value: unknown, path: readonly PropertyKey[]): number {
  let node = value;
  let depth = 0;
  for (const seg of path) {
    if (!isMapping(node)) break;
    node = node[String(seg)];
    if (node === null || node === undefined) break;
    depth++;
  }
  return depth;
}

/** The layer that supplied the value at `path`: the deepest match, later layers winning ties. */
function blame(layers: readonly Layer[], path: readonly PropertyKey[]): Layer {
  let best = layers[0] as Layer;
  let bestDepth = -1;
  for (const layer of layers) {
    const d = depthIn(layer.value, path);
    if (d >= bestDepth) [best, bestDepth] = [layer, d];
  }
  return best;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let node = value;
  // Lists too: a key inside `authentication` (authentication.0.bootstrap_file) shows its value.
  for (const seg of path) {
    node = isMapping(node) || Array.isArray(node)
      ? (node as Record<string, unknown>)[String(seg)]
      : undefined;
  }
  return node;
}

function render(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (isMapping(v)) return "a mapping";
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** Closest known key by edit distance, if close enough to be a typo. */
function nearest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestCost = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const cost = editDistance(key.toLowerCase(), k);
    if (cost < bestCost) [best, bestCost] = [k, cost];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Turns the first schema issue into a ConfigError naming the layer that caused it. */
function toConfigError(
  issues: readonly z.core.$ZodIssue[],
  layers: readonly Layer[],
  merged: unknown,
): ConfigError {
  const issue = issues[0] as z.core.$ZodIssue;
  let path: PropertyKey[] = [...issue.path];
  let expected = issue.message;
  let got: string;
  let isKey = false;

  if (issue.code === "unrecognized_keys") {
    const unknown = issue.keys[0] ?? "";
    const parent = path.map(String).join(".");
    const known = knownKeys(path) ?? [];
    const near = nearest(unknown, known);
    const of = parent ? `of ${parent}` : "at the top level";
    expected = near ? `a known key ${of} (did you mean "${near}"?)` : `a known key ${of}: ` +
      known.join(", ");
    got = `unknown key ${JSON.stringify(unknown)}`;
    path = [...path, unknown];
    isKey = true;
  } else if (issue.code === "invalid_key") {
    expected = issue.issues[0]?.message ?? issue.message;
    got = JSON.stringify(String(path[path.length - 1]));
    isKey = true;
  } else {
    if (
      issue.code === "invalid_type" && (issue.expected === "object" || issue.expected === "record")
    ) {
      expected = "a mapping of keys";
    }
    got = render(valueAt(merged, path));
  }

  const layer = blame(layers, path);
  const line = layer.yaml ? lineOf(layer.yaml, path, isKey) : null;
  return new ConfigError({
    key: path.map(String).join("."),
    line,
    source: layer.source,
    expected,
    got,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
