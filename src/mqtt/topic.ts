/**
 * Topic rules of MQTT 3.1.1 and 5.0 (section 4.7, shared subscriptions 4.8.2): validation of
 * topic names and filters, level splitting, the $-topic rule, $share/$queue parsing and
 * `matches(filter, topic)`. Pure functions over strings: no state, no imports beyond the error
 * type. Spec ids are MQTT 5.0 unless marked 3.1.1.
 *
 * @module
 */

import { MqttError } from "./errors.ts";
import { ReasonCode } from "./reason_codes.ts";

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const MAX_BYTES = 65535;
const SHARE_PREFIX = "$share/";
const QUEUE_PREFIX = "$queue/";

/** A shared subscription split into its group and the filter it subscribes. */
export interface SharedFilter {
  /** The ShareName, or "$queue" for `$queue/{filter}` (EMQX's older form). */
  readonly group: string;
  readonly filter: string;
}

function fail(what: "name" | "filter", s: string, reason: string): never {
  const code = what === "name" ? ReasonCode.TopicNameInvalid : ReasonCode.TopicFilterInvalid;
  throw new MqttError(code, `Cannot use topic ${what} ${JSON.stringify(s)}: ${reason}`);
}

// One pass over the UTF-16 code units: counts UTF-8 bytes and levels and checks characters, so a
// valid topic (the common case) costs no allocation.
function scan(what: "name" | "filter", s: string, label: string, maxLevels: number): void {
  const len = s.length;
  // [MQTT-4.7.3-1] Topic names and filters are at least one character long.
  if (len === 0) fail(what, label, "it is empty");
  let bytes = 0;
  let levels = 1;
  let levelStart = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes++;
      // [MQTT-4.7.3-2] No U+0000 in a topic name or filter.
      if (c === 0) fail(what, label, "it contains U+0000");
      if (c === SLASH) {
        levels++;
        levelStart = i + 1;
      } else if (c === PLUS || c === HASH) {
        const ch = c === PLUS ? "'+'" : "'#'";
        // [MQTT-4.7.0-1] (3.1.1: [MQTT-4.7.1-1], [MQTT-3.3.2-2]) No wildcards in a topic name.
        if (what === "name") fail(what, label, `wildcards (${ch}) are not allowed in a topic name`);
        // [MQTT-4.7.1-2] '+' (and '#') must occupy a whole level.
        const next = i + 1 < len ? s.charCodeAt(i + 1) : SLASH;
        if (i !== levelStart || (next !== SLASH)) {
          fail(what, label, `${ch} must occupy a whole level`);
        }
        // [MQTT-4.7.1-1] '#' must be the last character of the filter.
        if (c === HASH && i !== len - 1) fail(what, label, "'#' must be the last level");
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const lo = i + 1 < len ? s.charCodeAt(i + 1) : 0;
      // [MQTT-1.5.4-1] A lone surrogate has no UTF-8 encoding.
      if (lo < 0xdc00 || lo > 0xdfff) fail(what, label, "it contains a lone surrogate");
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      fail(what, label, "it contains a lone surrogate");
    } else {
      bytes += 3;
    }
  }
  // [MQTT-4.7.3-3] At most 65535 bytes of UTF-8.
  if (bytes > MAX_BYTES) fail(what, label, `it is longer than ${MAX_BYTES} bytes`);
  if (maxLevels > 0 && levels > maxLevels) {
    fail(what, label, `it has ${levels} levels, more than the ${maxLevels} allowed`);
  }
}

/**
 * Checks a topic name (PUBLISH, will, retained): non-empty, no U+0000, no wildcards, at most
 * 65535 UTF-8 bytes and `maxLevels` levels (0 = no limit). Throws MqttError 0x90
 * (Topic Name invalid).
 *
 * @example
 * ```ts
 * import { validateTopicName } from "./topic.ts";
 * import assert from "node:assert/strict";
 * validateTopicName("sensors/1/temp", 128); // ok
 * try {
 *   validateTopicName("sensors/+", 128);
 * } catch (e) {
 *   assert.ok((e as { reasonCode: number }).reasonCode === 0x90);
 * }
 * ```
 */
export function validateTopicName(topic: string, maxLevels: number): void {
  scan("name", topic, topic, maxLevels);
}

/**
 * Checks a topic filter (SUBSCRIBE, UNSUBSCRIBE): the rules of a name, except that '+' and '#'
 * may occupy whole levels and '#' only the last one. `$share/{group}/{filter}` and
 * `$queue/{filter}` are checked as shared subscriptions (the group non-empty and without '/',
 * '+', '#'; the inner filter valid and counted against `maxLevels`). Throws MqttError 0x8F
 * (Topic Filter invalid).
 *
 * @example
 * ```ts
 * import { validateTopicFilter } from "./topic.ts";
 * import assert from "node:assert/strict";
 * validateTopicFilter("a/+/c/#", 128);
 * validateTopicFilter("$share/g1/a/#", 128);
 * try {
 *   validateTopicFilter("a/#/b", 128);
 * } catch (e) {
 *   assert.ok((e as Error).message === `Cannot use topic filter "a/#/b": '#' must be the last level`);
 * }
 * ```
 */
export function validateTopicFilter(filter: string, maxLevels: number): void {
  if (filter.startsWith(SHARE_PREFIX) || filter.startsWith(QUEUE_PREFIX)) {
    const shared = parseShared(filter);
    // [MQTT-4.8.2-1] [MQTT-4.8.2-2] ShareName: at least one character, no '/', '+' or '#',
    // followed by '/' and a topic filter.
    if (shared === null) {
      fail("filter", filter, "a shared subscription needs a group name and a filter");
    }
    scan("filter", shared.filter, filter, maxLevels);
    return;
  }
  scan("filter", filter, filter, maxLevels);
}

/**
 * Splits a topic name or filter into its levels; adjacent separators give empty levels
 * (section 4.7.1.1).
 *
 * @example
 * ```ts
 * import { splitLevels } from "./topic.ts";
 * import assert from "node:assert/strict";
 * assert.ok(splitLevels("/a//b").join("|") === "|a||b");
 * ```
 */
export function splitLevels(topic: string): string[] {
  return topic.split("/");
}

/**
 * True for topics beginning with '$' ($SYS/..., $share/...), which wildcards at the first level
 * never match [MQTT-4.7.2-1].
 *
 * @example
 * ```ts
 * import { isSysTopic } from "./topic.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isSysTopic("$SYS/brokers") && !isSysTopic("a/$b"));
 * ```
 */
export function isSysTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}

/**
 * Splits `$share/{group}/{filter}` or `$queue/{filter}` (group "$queue"). Returns null when the
 * filter is not shared or is a malformed shared form; `validateTopicFilter` rejects the latter,
 * so after validation null means "a plain filter".
 *
 * @example
 * ```ts
 * import { parseShared } from "./topic.ts";
 * import assert from "node:assert/strict";
 * const s = parseShared("$share/g1/a/+");
 * assert.ok(s?.group === "g1" && s.filter === "a/+");
 * assert.ok(parseShared("$queue/jobs")?.group === "$queue");
 * assert.ok(parseShared("a/b") === null);
 * ```
 */
export function parseShared(filter: string): SharedFilter | null {
  if (filter.startsWith(SHARE_PREFIX)) {
    const slash = filter.indexOf("/", SHARE_PREFIX.length);
    if (slash <= SHARE_PREFIX.length) return null; // no '/' after the group, or an empty group
    const group = filter.slice(SHARE_PREFIX.length, slash);
    if (group.includes("+") || group.includes("#")) return null;
    const inner = filter.slice(slash + 1);
    return inner.length === 0 ? null : { group, filter: inner };
  }
  if (filter.startsWith(QUEUE_PREFIX)) {
    const inner = filter.slice(QUEUE_PREFIX.length);
    return inner.length === 0 ? null : { group: "$queue", filter: inner };
  }
  return null;
}

/**
 * True when the filter contains '+' or '#' (on a valid filter they fill whole levels).
 *
 * @example
 * ```ts
 * import { hasWildcard } from "./topic.ts";
 * import assert from "node:assert/strict";
 * assert.ok(hasWildcard("a/+") && !hasWildcard("a/b"));
 * ```
 */
export function hasWildcard(filter: string): boolean {
  return filter.includes("+") || filter.includes("#");
}

/**
 * Whether a valid topic name matches a valid filter (section 4.7): '+' matches one level, '#'
 * the parent level and any below ("a/#" matches "a"), and a filter starting with a wildcard
 * never matches a topic starting with '$' [MQTT-4.7.2-1]. Walks both strings in place, without
 * splitting them.
 *
 * @example
 * ```ts
 * import { matches } from "./topic.ts";
 * import assert from "node:assert/strict";
 * assert.ok(matches("sport/#", "sport"));
 * assert.ok(matches("+/+", "/finance"));
 * assert.ok(!matches("#", "$SYS/uptime"));
 * assert.ok(matches("$SYS/#", "$SYS/uptime"));
 * ```
 */
export function matches(filter: string, topic: string): boolean {
  const f0 = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (f0 === PLUS || f0 === HASH)) return false;
  const fl = filter.length;
  const tl = topic.length;
  let fi = 0;
  let ti = 0;
  for (;;) {
    let fe = filter.indexOf("/", fi);
    if (fe === -1) fe = fl;
    // '#' matches what is left, including nothing: "a/#" matches "a" [MQTT-4.7.1-1 note].
    if (fe - fi === 1 && filter.charCodeAt(fi) === HASH) return true;
    if (ti > tl) return false; // the topic ran out of levels first
    let te = topic.indexOf("/", ti);
    if (te === -1) te = tl;
    if (!(fe - fi === 1 && filter.charCodeAt(fi) === PLUS)) {
      if (fe - fi !== te - ti) return false;
      for (let k = 0; k < fe - fi; k++) {
        if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
      }
    }
    fi = fe + 1;
    ti = te + 1;
    if (fi > fl) return ti > tl; // the filter ran out: match only if the topic did too
  }
}
