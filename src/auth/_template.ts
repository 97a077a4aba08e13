/**
 * Placeholder templates (`${username}`, `${clientid}`, ...) for queries, commands, URLs, headers,
 * bodies and filters. Private to src/auth/. A template is parsed once into literal parts and
 * variable names; rendering NEVER splices a value into code: SQL gets parameters, Redis gets
 * separate arguments, URLs get percent-encoding, JSON bodies and Mongo filters get values, LDAP
 * gets RFC 4514/4515 escaping. Pure: no I/O.
 */

import type { AuthzAction, ClientInfo } from "./client.ts";

/** Placeholders accepted in authentication templates (EMQX's AUTHN_DEFAULT_ALLOWED_VARS). */
export const AUTHN_VARS = [
  "clientid",
  "username",
  "password",
  "peerhost",
  "cert_common_name",
  "cert_subject",
  "zone",
] as const;

/** Placeholders accepted in authorization query templates (SQL, Redis, Mongo, LDAP, HTTP). */
export const AUTHZ_VARS = [
  "clientid",
  "username",
  "peerhost",
  "cert_common_name",
  "cert_subject",
  "zone",
  "topic",
  "action",
  "qos",
  "retain",
] as const;

/** Placeholders accepted inside ACL rule topics (EMQX emqx_authz_rule ALLOWED_VARS). */
export const TOPIC_VARS = ["clientid", "username", "cert_common_name", "zone"] as const;

/** A parsed template: literal parts around variable names (parts.length = vars.length + 1). */
export interface Template {
  readonly source: string;
  readonly parts: readonly string[];
  readonly vars: readonly string[];
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

/**
 * Parses `source`; throws a TypeError naming the placeholder when one is not in `allowed`.
 *
 * @example
 * ```ts
 * import { parseTemplate } from "./_template.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTemplate("mqtt_user:${username}", ["username"]).vars, ["username"]);
 * ```
 */
export function parseTemplate(source: string, allowed: readonly string[]): Template {
  const parts: string[] = [];
  const vars: string[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!allowed.includes(name)) {
      throw new TypeError(
        `Unknown placeholder "\${${name}}" in "${source}": allowed are ` +
          allowed.map((v) => `\${${v}}`).join(", "),
      );
    }
    parts.push(source.slice(last, m.index));
    vars.push(name);
    last = m.index + m[0].length;
  }
  parts.push(source.slice(last));
  return { source, parts, vars };
}

/** The names of the placeholders `source` uses that are not in `allowed` (schema checks). */
export function unknownPlaceholders(source: string, allowed: readonly string[]): string[] {
  return [...source.matchAll(PLACEHOLDER)].map((m) => m[1] as string).filter((n) =>
    !allowed.includes(n)
  );
}

/** Variable values of one client (and action, for authorization). Undefined = not known. */
export type Vars = Readonly<Record<string, string | undefined>>;

const decoder = new TextDecoder();

/** The values of a client's placeholders. The password is decoded as UTF-8. */
export function clientVars(info: ClientInfo, action?: AuthzAction): Vars {
  return {
    clientid: info.clientId,
    username: info.username,
    password: info.password ? decoder.decode(info.password) : undefined,
    peerhost: info.peerhost,
    cert_common_name: info.certCommonName,
    cert_subject: info.certSubject,
    zone: info.zone,
    topic: action?.topic,
    action: action?.type,
    qos: action ? String(action.qos) : undefined,
    retain: action ? String(action.retain) : undefined,
  };
}

/** Renders with `encode` applied to every value (undefined renders as ""). */
export function render(t: Template, vars: Vars, encode: (v: string) => string = id): string {
  let out = t.parts[0] as string;
  for (let i = 0; i < t.vars.length; i++) {
    out += encode(vars[t.vars[i] as string] ?? "") + (t.parts[i + 1] as string);
  }
  return out;
}

function id(v: string): string {
  return v;
}

/** Renders the value only when every placeholder has one; null otherwise (topic rules). */
export function renderStrict(t: Template, vars: Vars): string | null {
  for (const v of t.vars) if (vars[v] === undefined) return null;
  return render(t, vars);
}

/**
 * A SQL statement with `${x}` replaced by parameter markers (`marker(i)` for the i-th, 1-based)
 * and the names of the values to bind, in order.
 */
export interface SqlTemplate {
  readonly sql: string;
  readonly params: readonly string[];
}

/** Parses a SQL template; `marker` gives "$1" (PostgreSQL) or "?" (MySQL). */
export function parseSql(
  source: string,
  allowed: readonly string[],
  marker: (i: number) => string,
): SqlTemplate {
  const t = parseTemplate(source, allowed);
  let sql = t.parts[0] as string;
  for (let i = 0; i < t.vars.length; i++) sql += marker(i + 1) + (t.parts[i + 1] as string);
  return { sql, params: t.vars };
}

/** The values of a SQL template's parameters (undefined becomes SQL NULL). */
export function sqlValues(t: SqlTemplate, vars: Vars): (string | null)[] {
  return t.params.map((p) => vars[p] ?? null);
}

/** A command split into words, each word a template: one Redis argument per word. */
export function parseCommand(source: string, allowed: readonly string[]): Template[] {
  return source.trim().split(/\s+/).map((w) => parseTemplate(w, allowed));
}

/** Renders a map of templates (HTTP body, Mongo filter): values stay values. */
export function renderMap(
  map: Readonly<Record<string, unknown>>,
  vars: Vars,
  allowed: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map)) {
    if (typeof v === "string") out[k] = render(parseTemplate(v, allowed), vars);
    else if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      out[k] = renderMap(v as Record<string, unknown>, vars, allowed);
    } else out[k] = v;
  }
  return out;
}

/** RFC 4515 escaping of a value inside an LDAP search filter. */
export function escapeLdapFilter(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => "\\" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

/** RFC 4514 escaping of a value inside an LDAP distinguished name. */
export function escapeLdapDn(v: string): string {
  let out = v.replace(/[\\,+"<>;=\0]/g, (c) => "\\" + c);
  if (out.startsWith(" ") || out.startsWith("#")) out = "\\" + out;
  if (out.endsWith(" ") && !out.endsWith("\\ ")) out = out.slice(0, -1) + "\\ ";
  return out;
}

/** Header values must not carry CR or LF (a value could otherwise add headers). */
export function headerValue(v: string): string {
  return v.replace(/[\r\n]/g, "");
}
