/**
 * Query planning for retained lookups by topic filter: which access path reads only what can
 * match. Pure: filter + index specs in, SQL fragments out; store/_retained.ts runs them.
 *
 * Paths, best first:
 * - `exact`: a filter without wildcards is one topic (the UNIQUE index on topic).
 * - `prefix`: leading literal levels "a/b/..." are a range of the topic index; chosen when they
 *   fix at least as many levels as the best index spec.
 * - `index`: EMQX's index_specs: the spec whose leading positions the filter fixes most
 *   ("sensor/+/temp" fixes 1 and 3: spec [1, 3] reads only the matches).
 * - `scan`: nothing fixed ("#", "+/+"): every row, in id order.
 * Every path also filters on depth, the fixed levels 1-8, expiry and the `$` rule in SQL, so the
 * rows are exactly the matches unless the filter fixes a level past 8 (not a column): only then
 * (`confirm`) does the caller check each row with `matches()`.
 */

import { RETAINED_LEVELS, retainedIndexName } from "./schema.ts";

/** A planned lookup. `cursor*` describe how to continue after the last row of a page. */
export interface RetainedPlan {
  readonly path: "exact" | "prefix" | "index" | "scan";
  /** The index the path reads (retained_topic for exact/prefix, a retained_l* name, or null). */
  readonly index: string | null;
  /** SQL condition on `retained` with ? placeholders, in `params` order. */
  readonly where: string;
  readonly params: readonly (string | number)[];
  /** Columns the rows are ordered by; the cursor is their values in the last row. */
  readonly order: readonly string[];
  /** The SQL may return rows that do not match (a literal level past 8): check each one. */
  readonly confirm: boolean;
}

/**
 * Plans the lookup of `filter` (a valid MQTT topic filter, without `$share/`).
 *
 * @example
 * ```ts
 * import { planRetained } from "./retained_plan.ts";
 * import assert from "node:assert/strict";
 * const p = planRetained("sensor/+/temp", [[1, 2, 3], [1, 3], [2, 3], [3]]);
 * assert.ok(p.path === "index" && p.index === "retained_l1_l3");
 * ```
 */
export function planRetained(
  filter: string,
  specs: readonly (readonly number[])[],
): RetainedPlan {
  const levels = filter.split("/");
  const n = levels.length;
  const hash = levels[n - 1] === "#";
  const literal = (pos: number) => {
    const l = levels[pos - 1];
    return l !== undefined && l !== "+" && l !== "#";
  };
  if (!levels.some((l) => l === "+" || l === "#")) {
    return {
      path: "exact",
      index: "retained_topic",
      where: "topic = ?",
      params: [filter],
      order: [],
      confirm: false,
    };
  }

  const conds: string[] = [];
  const params: (string | number)[] = [];
  // Depth: "a/+" has 2 levels; "a/#" has 1 or more ('#' also matches the parent, "a").
  if (hash) {
    if (n - 1 > 1) {
      conds.push("depth >= ?");
      params.push(n - 1);
    }
  } else {
    conds.push("depth = ?");
    params.push(n);
  }
  for (let pos = 1; pos <= Math.min(n, RETAINED_LEVELS); pos++) {
    if (literal(pos)) {
      conds.push(`l${pos} = ?`);
      params.push(levels[pos - 1]!);
    }
  }
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match "$" topics.
  if (!literal(1)) conds.push("substr(topic, 1, 1) <> '$'");

  let confirm = false;
  for (let pos = RETAINED_LEVELS + 1; pos <= n; pos++) confirm ||= literal(pos);

  let prefixLen = 0;
  while (literal(prefixLen + 1)) prefixLen++;
  let best: readonly number[] | null = null;
  let bestScore = 0;
  for (const spec of specs) {
    let score = 0;
    while (score < spec.length && literal(spec[score]!)) score++;
    if (score > bestScore || (score === bestScore && best && spec.length < best.length)) {
      [best, bestScore] = [spec, score];
    }
  }

  if (prefixLen > 0 && prefixLen >= bestScore) {
    // Bytes between "a/b" and "a/b0" ('0' follows '/'): "a/b" itself and everything under it.
    const prefix = levels.slice(0, prefixLen).join("/");
    conds.unshift("topic >= ?", "topic < ?");
    params.unshift(prefix, prefix + "0");
    return {
      path: "prefix",
      index: "retained_topic",
      where: conds.join(" AND "),
      params,
      order: ["topic"],
      confirm,
    };
  }
  if (best && bestScore > 0) {
    const order = [...best.map((p) => `l${p}`), "id"];
    return {
      path: "index",
      index: retainedIndexName(best),
      where: conds.join(" AND "),
      params,
      order,
      confirm,
    };
  }
  return {
    path: "scan",
    index: null,
    where: conds.join(" AND ") || "1",
    params,
    order: ["id"],
    confirm,
  };
}
