/**
 * Authorization sources over networked backends, each with EMQX's row/field contract: redis
 * (hash field = topic filter, value = action or JSON, allow only), postgresql and mysql (rows of
 * permission, action, topic, qos, retain), mongodb (documents with the same fields, topic or
 * topics), ldap (publish/subscribe/all attributes, allow only) and http (204 / 200 + result).
 * Owned by src/auth/. Every lookup has a deadline; a failure or timeout answers nomatch, is
 * counted (`authz.<type>.error`) and logged once per burst. Never throws.
 */

import { type AclRule, compileRawRule, evaluate, type RawRule } from "../acl_rule.ts";
import { BurstLog, withTimeout } from "../_backend.ts";
import {
  HttpConnector,
  MongoConnector,
  RedisConnector,
  type SqlConnector,
  sqlConnector,
} from "../_connectors.ts";
import { attrList, LdapConnector } from "../_ldap.ts";
import {
  AUTHZ_VARS,
  clientVars,
  escapeLdapDn,
  escapeLdapFilter,
  headerValue,
  parseCommand,
  parseSql,
  parseTemplate,
  render,
  renderMap,
  sqlValues,
  type Template,
  type Vars,
} from "../_template.ts";
import type { AuthMetrics } from "../metrics.ts";
import type { AuthzAction, AuthzClient, AuthzSource, SourceAnswer } from "../types.ts";
import type { AuthzSourceConfig } from "../../config/types_auth.ts";

type Lookup = (
  vars: Vars,
  client: AuthzClient,
  action: AuthzAction,
) => Promise<AclRule[] | SourceAnswer>;

/** A source whose answer comes from a lookup with a deadline. */
export class BackendSource implements AuthzSource {
  readonly type: string;
  readonly #lookup: Lookup;
  readonly #timeout: number;
  readonly #burst: BurstLog;
  readonly #metrics: AuthMetrics;
  readonly #close: () => Promise<void>;

  constructor(
    type: string,
    timeout: number,
    metrics: AuthMetrics,
    lookup: Lookup,
    close: () => Promise<void>,
  ) {
    this.type = type;
    this.#lookup = lookup;
    this.#timeout = timeout;
    this.#metrics = metrics;
    this.#close = close;
    this.#burst = new BurstLog(`authorization source ${type}`);
  }

  async authorize(client: AuthzClient, action: AuthzAction): Promise<SourceAnswer> {
    const vars = clientVars(client, action);
    const out = await withTimeout(() => this.#lookup(vars, client, action), this.#timeout);
    if (!out.ok) {
      this.#metrics.inc(`authz.${this.type}.error`);
      this.#burst.failure(out.error);
      return "nomatch";
    }
    if (typeof out.value === "string") return out.value;
    return evaluate(out.value, client, action, action.topic.split("/"));
  }

  close(): Promise<void> {
    return this.#close();
  }
}

/** Compiles rows, skipping (and logging once) the ones that break the contract. */
function compileRows(
  rows: readonly RawRule[],
  burst: BurstLog,
  defaultPermission?: "allow",
): AclRule[] {
  const out: AclRule[] = [];
  for (const r of rows) {
    try {
      out.push(compileRawRule(r, defaultPermission));
    } catch (e) {
      burst.failure(`skipped a rule row: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Builds the source of a networked backend type. */
export function createBackendSource(
  cfg: Exclude<AuthzSourceConfig, { type: "file" | "built_in_database" }>,
  metrics: AuthMetrics,
  shards?: number,
): AuthzSource {
  const rowLog = new BurstLog(`authorization source ${cfg.type} rows`);
  switch (cfg.type) {
    case "redis": {
      const conn = new RedisConnector(cfg, shards);
      const cmd = parseCommand(cfg.cmd, AUTHZ_VARS);
      const verb = (cmd[0]?.source ?? "").toUpperCase();
      return new BackendSource(cfg.type, cfg.queryTimeout, metrics, async (vars) => {
        const args = cmd.map((t) => render(t, vars));
        const reply = await conn.command(args);
        return compileRows(redisRows(verb, args, reply), rowLog, "allow");
      }, () => conn.close());
    }
    case "postgresql":
    case "mysql": {
      const conn: SqlConnector = sqlConnector(cfg.type, cfg, shards);
      const q = parseSql(cfg.query, AUTHZ_VARS, conn.marker);
      return new BackendSource(cfg.type, cfg.queryTimeout, metrics, async (vars) => {
        const rows = await conn.query(q.sql, sqlValues(q, vars));
        return compileRows(rows.map(normaliseRow), rowLog);
      }, () => conn.close());
    }
    case "mongodb": {
      const conn = new MongoConnector(cfg, shards);
      return new BackendSource(cfg.type, cfg.queryTimeout, metrics, async (vars) => {
        const docs = await conn.find(renderMap(cfg.filter, vars, AUTHZ_VARS), cfg.limit, cfg.skip);
        return compileRows(docs, rowLog);
      }, () => conn.close());
    }
    case "ldap": {
      const conn = new LdapConnector(cfg, shards);
      const base = parseTemplate(cfg.baseDn, AUTHZ_VARS);
      const filter = parseTemplate(cfg.filter, AUTHZ_VARS);
      const attrs = [cfg.publishAttribute, cfg.subscribeAttribute, cfg.allAttribute];
      return new BackendSource(cfg.type, cfg.queryTimeout, metrics, async (vars) => {
        const entries = await conn.search(
          render(base, vars, escapeLdapDn),
          render(filter, vars, escapeLdapFilter),
          attrs,
        );
        const rows: RawRule[] = [];
        for (const e of entries) {
          for (
            const [attr, action] of [[attrs[0], "publish"], [attrs[1], "subscribe"], [
              attrs[2],
              "all",
            ]] as const
          ) {
            for (const topic of attrList(e, attr as string)) {
              rows.push({ permission: "allow", action, topic });
            }
          }
        }
        return compileRows(rows, rowLog);
      }, () => conn.close());
    }
    case "http":
      return httpSource(cfg, metrics, shards);
  }
}

function httpSource(
  cfg: Extract<AuthzSourceConfig, { type: "http" }>,
  metrics: AuthMetrics,
  shards?: number,
): AuthzSource {
  const conn = new HttpConnector(cfg, shards);
  const url = parseTemplate(cfg.url, AUTHZ_VARS);
  const headers = Object.entries(cfg.headers).map(([k, v]) =>
    [k, parseTemplate(v, AUTHZ_VARS)] as const
  );
  return new BackendSource("http", cfg.requestTimeout, metrics, async (vars) => {
    const h: Record<string, string> = { "accept": "application/json", "cache-control": "no-cache" };
    for (const [k, t] of headers) h[k.toLowerCase()] = headerValue(render(t, vars));
    const init: { method: string; headers: Record<string, string>; body?: string } = {
      method: cfg.method.toUpperCase(),
      headers: h,
    };
    if (cfg.method === "post") {
      h["content-type"] ??= "application/json";
      init.body = JSON.stringify(renderMap(cfg.body, vars, AUTHZ_VARS));
    } else delete h["content-type"];
    let target = render(url, vars, encodeURIComponent);
    if (cfg.method === "get" && Object.keys(cfg.body).length > 0) {
      const qs = new URLSearchParams(
        renderMap(cfg.body, vars, AUTHZ_VARS) as Record<string, string>,
      );
      target += (target.includes("?") ? "&" : "?") + qs.toString();
    }
    const res = await conn.request(target, init, cfg.requestTimeout);
    if (res.status === 204) return "allow";
    if (res.status !== 200) return "nomatch";
    const result = parseHttpBody(res.contentType, res.body).result;
    return result === "allow" || result === "deny" ? result : "nomatch";
  }, () => conn.close());
}

/** An HTTP answer body: JSON, or x-www-form-urlencoded (EMQX accepts both). */
export function parseHttpBody(contentType: string, body: string): Record<string, unknown> {
  try {
    if (contentType.includes("x-www-form-urlencoded")) {
      return Object.fromEntries(new URLSearchParams(body));
    }
    const v = JSON.parse(body);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** Redis replies as raw rules: HGETALL pairs, or HMGET fields (the command's args) with values. */
function redisRows(verb: string, args: readonly string[], reply: unknown): RawRule[] {
  if (!Array.isArray(reply)) return [];
  const pairs: [string, unknown][] = [];
  if (verb === "HMGET") {
    args.slice(2).forEach((field, i) => pairs.push([field, reply[i]]));
  } else {
    for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1]]);
  }
  const rows: RawRule[] = [];
  for (const [topic, value] of pairs) {
    if (value === null || value === undefined) continue;
    const text = String(value);
    if (text.startsWith("{")) {
      try {
        rows.push({ ...JSON.parse(text), topic });
        continue;
      } catch { /* falls through as a plain action, which then fails to compile and is skipped */ }
    }
    rows.push({ action: text, topic });
  }
  return rows;
}

/** SQL drivers return bytes or numbers for some columns; rules want text and numbers. */
function normaliseRow(row: Record<string, unknown>): RawRule {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k.toLowerCase()] = v instanceof Uint8Array ? new TextDecoder().decode(v) : v;
  }
  return out;
}

/** Exposed for the schema: parse-check templates at config time. */
export type { Template };
