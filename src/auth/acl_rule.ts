/**
 * ACL rules as EMQX evaluates them (emqx_authz_rule): permission, who, action (with qos/retain
 * conditions) and topics; the topic matching of a rule's filter against a requested topic or
 * filter; and the compilation of EMQX's "raw rules" (the JSON rows of databases, HTTP `acl`, the
 * JWT `acl` claim). Owned by src/auth/. Pure: rules are data, matching is synchronous.
 */

import { type Cidr, ipInCidr, parseCidr } from "./ip.ts";
import { parseTemplate, renderStrict, type Template, TOPIC_VARS, type Vars } from "./_template.ts";
import type { AuthzAction, ClientInfo } from "./client.ts";

/** Who a rule is about. */
export type Who =
  | { readonly kind: "all" }
  | { readonly kind: "ipaddrs"; readonly nets: readonly Cidr[] }
  | { readonly kind: "username" | "clientid"; readonly value: string | RegExp }
  | { readonly kind: "and" | "or"; readonly list: readonly Who[] };

/** The action a rule covers, with EMQX's optional conditions. */
export interface ActionSpec {
  readonly type: "publish" | "subscribe" | "all";
  /** QoS levels covered; undefined = all. */
  readonly qos?: readonly number[] | undefined;
  /** Retain flag covered (publish only); undefined = either. */
  readonly retain?: boolean | undefined;
}

/** One topic of a rule. */
export type TopicSpec =
  | { readonly kind: "all" }
  /** `{eq, "t/#"}` / raw "eq t/#": the requested topic must equal the text. */
  | { readonly kind: "eq"; readonly template: Template; readonly words?: readonly string[] }
  /** A filter; words precomputed when it has no placeholder. */
  | { readonly kind: "filter"; readonly template: Template; readonly words?: readonly string[] };

/** A compiled rule. `line` is set for rules read from acl.conf. */
export interface AclRule {
  readonly permission: "allow" | "deny";
  readonly who: Who;
  readonly action: ActionSpec;
  readonly topics: readonly TopicSpec[];
  readonly line?: number;
}

export const WHO_ALL: Who = { kind: "all" };

/** Builds a topic spec; placeholders are checked against EMQX's topic variables. */
export function topicSpec(text: string, eq = false): TopicSpec {
  const template = parseTemplate(text, TOPIC_VARS);
  const kind = eq ? "eq" : "filter";
  return template.vars.length === 0
    ? { kind, template, words: text.split("/") }
    : { kind, template };
}

/** Whether `who` covers the client. */
export function matchWho(who: Who, client: ClientInfo): boolean {
  switch (who.kind) {
    case "all":
      return true;
    case "ipaddrs":
      return who.nets.some((n) => ipInCidr(client.peerhost, n));
    case "username":
      return matchValue(who.value, client.username);
    case "clientid":
      return matchValue(who.value, client.clientId);
    case "and":
      return who.list.every((w) => matchWho(w, client));
    case "or":
      return who.list.some((w) => matchWho(w, client));
  }
}

function matchValue(want: string | RegExp, have: string | undefined): boolean {
  if (have === undefined) return false;
  return typeof want === "string" ? want === have : want.test(have);
}

/** Whether the action spec covers `action`. */
export function matchAction(spec: ActionSpec, action: AuthzAction): boolean {
  if (spec.type !== "all" && spec.type !== action.type) return false;
  if (spec.qos !== undefined && !spec.qos.includes(action.qos)) return false;
  // EMQX checks the retain condition for publishes only.
  if (spec.retain !== undefined && action.type === "publish" && spec.retain !== action.retain) {
    return false;
  }
  return true;
}

/**
 * EMQX's emqx_topic:match(Requested, RuleFilter): the requested topic's words, wildcards
 * included, against the rule's filter. `+` in the rule matches any one word (even a requested
 * `+` or `#`); `#` matches the rest (also nothing). A requested `$`-topic is not matched by a
 * rule starting with a wildcard.
 *
 * @example
 * ```ts
 * import { matchTopicWords } from "./acl_rule.ts";
 * import assert from "node:assert/strict";
 * assert.equal(matchTopicWords(["a", "+"], ["a", "#"]), true); // subscribing a/+ is covered by a/#
 * assert.equal(matchTopicWords(["#"], ["+", "#"]), true); // so "deny +/#" denies subscribing "#"
 * ```
 */
export function matchTopicWords(name: readonly string[], filter: readonly string[]): boolean {
  const first = filter[0];
  if ((first === "+" || first === "#") && (name[0] ?? "").startsWith("$")) return false;
  let i = 0;
  for (; i < filter.length; i++) {
    const f = filter[i] as string;
    if (f === "#" && i === filter.length - 1) return true;
    if (i >= name.length) return false;
    if (f !== "+" && f !== name[i]) return false;
  }
  return i === name.length;
}

/** Whether one of the rule's topics covers the requested topic (words precomputed). */
export function matchTopics(
  topics: readonly TopicSpec[],
  topic: string,
  words: readonly string[],
  vars: Vars,
): boolean {
  for (const t of topics) {
    if (t.kind === "all") return true;
    const fw = t.words ?? renderWords(t.template, vars);
    if (fw === null) continue;
    if (t.kind === "eq" ? fw.join("/") === topic : matchTopicWords(words, fw)) return true;
  }
  return false;
}

function renderWords(t: Template, vars: Vars): string[] | null {
  const text = renderStrict(t, vars);
  return text === null ? null : text.split("/");
}

/**
 * The rules of `rules` that can apply to `client`: those whose `who` covers it, with `who`
 * dropped and topic placeholders filled in (a topic whose placeholder has no value is left
 * out). Evaluating the result for that client gives the same answers as evaluating `rules`,
 * without re-checking who or re-rendering topics on every request.
 */
export function rulesForClient(rules: readonly AclRule[], client: ClientInfo): AclRule[] {
  const vars = topicVars(client);
  const out: AclRule[] = [];
  for (const r of rules) {
    if (!matchWho(r.who, client)) continue;
    const topics: TopicSpec[] = [];
    for (const t of r.topics) {
      if (t.kind === "all" || t.words) topics.push(t);
      else {
        const words = renderWords(t.template, vars);
        if (words) topics.push({ kind: t.kind, template: t.template, words });
      }
    }
    if (topics.length > 0) out.push({ ...r, who: WHO_ALL, topics });
  }
  return out;
}

/** Topic placeholders of a client. */
export function topicVars(client: ClientInfo): Vars {
  return {
    clientid: client.clientId,
    username: client.username,
    cert_common_name: client.certCommonName,
    zone: client.zone,
  };
}

/**
 * First rule that covers (client, action): its permission, or "nomatch".
 * `words` is `action.topic.split("/")`, passed in so a caller splits once per request.
 */
export function evaluate(
  rules: readonly AclRule[],
  client: ClientInfo,
  action: AuthzAction,
  words: readonly string[],
): "allow" | "deny" | "nomatch" {
  let vars: Vars | undefined;
  for (const r of rules) {
    if (!matchAction(r.action, action) || !matchWho(r.who, client)) continue;
    vars ??= topicVars(client);
    if (matchTopics(r.topics, action.topic, words, vars)) return r.permission;
  }
  return "nomatch";
}

/** A raw rule as databases, HTTP and JWT give it (EMQX emqx_authz_rule_raw). */
export type RawRule = Readonly<Record<string, unknown>>;

/**
 * Compiles one raw rule `{permission, action, topic | topics, qos?, retain?}`. `permission`
 * defaults to `defaultPermission` (Redis/LDAP rows are allow-only). Throws a TypeError that
 * names the bad field.
 */
export function compileRawRule(raw: RawRule, defaultPermission?: "allow" | "deny"): AclRule {
  const permission = raw.permission ?? defaultPermission;
  if (permission !== "allow" && permission !== "deny") {
    throw new TypeError(`permission must be "allow" or "deny", got ${JSON.stringify(permission)}`);
  }
  const topics = raw.topics ?? (raw.topic === undefined ? undefined : [raw.topic]);
  if (!Array.isArray(topics) || topics.some((t) => typeof t !== "string")) {
    throw new TypeError(`topic must be a string (or topics a list of strings)`);
  }
  return {
    permission,
    who: WHO_ALL,
    action: {
      type: rawAction(raw.action),
      qos: rawQos(raw.qos),
      retain: rawRetain(raw.retain),
    },
    topics: (topics as string[]).map((t) =>
      t.startsWith("eq ") ? topicSpec(t.slice(3), true) : topicSpec(t)
    ),
  };
}

function rawAction(v: unknown): ActionSpec["type"] {
  if (v === "publish" || v === "pub") return "publish";
  if (v === "subscribe" || v === "sub") return "subscribe";
  if (v === "all" || v === "pubsub") return "all";
  throw new TypeError(`action must be publish, subscribe or all, got ${JSON.stringify(v)}`);
}

function rawQos(v: unknown): number[] | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const list = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [v];
  const out = list.map((q) => Number(typeof q === "string" ? q.trim() : q));
  if (out.some((q) => q !== 0 && q !== 1 && q !== 2)) {
    throw new TypeError(`qos must be 0, 1, 2 or a list of them, got ${JSON.stringify(v)}`);
  }
  return out;
}

function rawRetain(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === "" || v === "all") return undefined;
  if (v === true || v === 1 || v === "true" || v === "1") return true;
  if (v === false || v === 0 || v === "false" || v === "0") return false;
  throw new TypeError(`retain must be true, false or all, got ${JSON.stringify(v)}`);
}

/**
 * Compiles a client ACL from authentication: a list of raw rules, or the older JWT form
 * `{"pub": [...], "sub": [...], "all": [...]}` (allow rules).
 */
export function compileClientAcl(acl: unknown): AclRule[] {
  if (Array.isArray(acl)) return acl.map((r) => compileRawRule(r as RawRule));
  if (typeof acl !== "object" || acl === null) {
    throw new TypeError("acl must be a list or an object");
  }
  const out: AclRule[] = [];
  const o = acl as Record<string, unknown>;
  for (const [key, action] of [["pub", "publish"], ["sub", "subscribe"], ["all", "all"]] as const) {
    const topics = o[key];
    if (topics === undefined) continue;
    if (!Array.isArray(topics)) throw new TypeError(`acl.${key} must be a list of topics`);
    out.push(compileRawRule({ permission: "allow", action, topics }));
  }
  return out;
}

/** `{ipaddr, "..."}` / `{ipaddrs, [...]}` helper for parsers: throws on a bad address. */
export function cidrOrThrow(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new TypeError(`"${text}" is not an IP address or CIDR range`);
  return c;
}
