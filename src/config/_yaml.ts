/**
 * YAML sources for load.ts: parses one document keeping its node positions, and finds the line
 * of a key path in it. Private to src/config/. Reads no files itself (load.ts passes the text)
 * and knows nothing about the schema.
 */

import YAML from "yaml";
import { ConfigError } from "./errors.ts";

/** One parsed YAML document with what is needed to point at its lines. */
export interface YamlSource {
  /** Shown in errors: a file path or "embedded config/culex.yaml". */
  readonly source: string;
  /** The document as plain data ({} for an empty document). */
  readonly value: Record<string, unknown>;
  readonly doc: YAML.Document.Parsed;
  readonly lines: YAML.LineCounter;
}

/** True for a plain mapping (not null, not an array). */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses `text` as one YAML 1.2 document. Syntax errors, duplicate keys and a top level that is
 * not a mapping become ConfigErrors carrying the line.
 */
export function parseYamlSource(text: string, source: string): YamlSource {
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0].line ?? lines.linePos(err.pos[0]).line;
    // Pretty errors append " at line N, column M:" and a code frame; the line is ours already.
    const reason = (err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError({
      key: "",
      line,
      source,
      expected: "valid YAML",
      got: `a syntax error: ${reason}`,
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError({ key: "", line: null, source, expected: "valid YAML", got: reason });
  }
  if (value === null || value === undefined) value = {};
  if (!isMapping(value)) {
    const line = doc.contents?.range ? lines.linePos(doc.contents.range[0]).line : null;
    throw new ConfigError({
      key: "",
      line,
      source,
      expected: "a mapping of keys at the top level",
      got: Array.isArray(value) ? "a list" : JSON.stringify(value),
    });
  }
  return { source, value, doc, lines };
}

/**
 * The 1-based line of `path` in the document: the value's line when the path ends on a scalar
 * and `preferKey` is false, else the line of the deepest key found along the path. Null when
 * not even the first key is in the document.
 */
export function lineOf(
  src: YamlSource,
  path: readonly PropertyKey[],
  preferKey: boolean,
): number | null {
  let node: unknown = src.doc.contents;
  let line: number | null = null;
  for (const [i, seg] of path.entries()) {
    // Lists (authentication, authorization.sources): step into the item, on its first line.
    if (YAML.isSeq(node)) {
      const item: unknown = node.items[Number(seg)];
      if (!YAML.isNode(item)) break;
      if (item.range) line = src.lines.linePos(item.range[0]).line;
      node = item;
      continue;
    }
    if (!YAML.isMap(node)) break;
    const pair = node.items.find((p) =>
      YAML.isScalar(p.key) && String(p.key.value) === String(seg)
    );
    if (!pair || !YAML.isScalar(pair.key)) break;
    const keyRange = pair.key.range;
    if (keyRange) line = src.lines.linePos(keyRange[0]).line;
    node = pair.value;
    const last = i === path.length - 1;
    if (last && !preferKey && YAML.isScalar(node) && node.range) {
      line = src.lines.linePos(node.range[0]).line;
    }
  }
  return line;
}

/**
 * Reads one value given in the environment or with --set as a YAML scalar: "5" is a number,
 * "true" a boolean, "1MB" and "127.0.0.1:1884" strings. Anything that is not a single scalar
 * ("a: b", "[1]", "#x", a syntax error) is kept as the raw string, so no value is lost.
 */
export function parseScalar(text: string): unknown {
  if (text.trim() === "") return text;
  const doc = YAML.parseDocument(text);
  if (doc.errors.length > 0 || !YAML.isScalar(doc.contents)) return text;
  return doc.contents.value;
}
