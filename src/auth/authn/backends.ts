/**
 * password_based authenticators over networked backends: redis, postgresql, mysql, mongodb,
 * ldap and http, each with EMQX's contract (password_hash | password, salt, is_superuser; HTTP
 * 204/200 + result). Owned by src/auth/. No row = ignore; a wrong password = deny 0x86; a
 * backend that fails or passes the deadline = ignore, counted (`authn.<id>.error`) and logged
 * once per burst. Never throws.
 */

import { BurstLog, withTimeout } from "../_backend.ts";
import { asText, checkPassword, type HashAlgorithm, isTruthy } from "../_hash.ts";
import { HttpConnector, MongoConnector, RedisConnector, sqlConnector } from "../_connectors.ts";
import { attrText, LdapConnector } from "../_ldap.ts";
import { ldapPasswordMatches } from "./ldap_hash.ts";
import { parseHttpBody } from "../authz/backends.ts";
import { compileClientAcl } from "../acl_rule.ts";
import {
  AUTHN_VARS,
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
  type Vars,
} from "../_template.ts";
import { passwordAnswer } from "./local.ts";
import type { AuthMetrics } from "../metrics.ts";
import {
  type Authenticator,
  type AuthnAllow,
  type AuthnAnswer,
  type ClientInfo,
  RC_NOT_AUTHORIZED,
} from "../types.ts";
import type {
  HttpAuthnConfig,
  LdapAuthnConfig,
  MongoAuthnConfig,
  RedisAuthnConfig,
  SqlAuthnConfig,
} from "../../config/types_auth.ts";

type Check = (vars: Vars, info: ClientInfo) => Promise<AuthnAnswer>;

const IGNORE_NOT_FOUND: AuthnAnswer = { result: "ignore", reason: "user not found" };

/** An authenticator whose answer comes from a lookup with a deadline. */
class BackendAuthenticator implements Authenticator {
  readonly id: string;
  readonly #check: Check;
  readonly #timeout: number;
  readonly #metrics: AuthMetrics;
  readonly #burst: BurstLog;
  readonly #close: () => Promise<void>;
  readonly #needsPassword: boolean;

  constructor(
    id: string,
    timeout: number,
    metrics: AuthMetrics,
    check: Check,
    close: () => Promise<void>,
    needsPassword = true,
  ) {
    this.id = id;
    this.#check = check;
    this.#timeout = timeout;
    this.#metrics = metrics;
    this.#close = close;
    this.#needsPassword = needsPassword;
    this.#burst = new BurstLog(`authenticator ${id}`);
  }

  async authenticate(info: ClientInfo): Promise<AuthnAnswer> {
    // EMQX: a password-based backend refuses a client that sent no password.
    if (this.#needsPassword && !info.password) return passwordAnswer(false, false);
    const out = await withTimeout(() => this.#check(clientVars(info), info), this.#timeout);
    if (out.ok) return out.value;
    this.#metrics.inc(`authn.${this.id}.error`);
    this.#burst.failure(out.error);
    return { result: "ignore", reason: `backend error: ${out.error}` };
  }

  close(): Promise<void> {
    return this.#close();
  }
}

/** Checks a row/document/hash reply against the password (EMQX check_password_from_selected_map). */
async function checkSelected(
  algo: HashAlgorithm,
  vars: Vars,
  hash: unknown,
  salt: unknown,
  superuser: unknown,
): Promise<AuthnAnswer> {
  const stored = asText(hash);
  if (stored === undefined) return IGNORE_NOT_FOUND;
  const ok = await checkPassword(algo, vars.password ?? "", stored, asText(salt) ?? "");
  return passwordAnswer(ok, isTruthy(asText(superuser) ?? superuser));
}

export function redisAuthenticator(
  cfg: RedisAuthnConfig,
  metrics: AuthMetrics,
  shards?: number,
): Authenticator {
  const conn = new RedisConnector(cfg, shards);
  const cmd = parseCommand(cfg.cmd, AUTHN_VARS);
  const verb = (cmd[0]?.source ?? "").toUpperCase();
  // HMGET key f1 f2 ... answers values in field order; HGET key f answers one value.
  const fields = cmd.slice(2).map((t) => t.source);
  return new BackendAuthenticator(
    "password_based:redis",
    cfg.queryTimeout,
    metrics,
    async (vars) => {
      const reply = await conn.command(cmd.map((t) => render(t, vars)));
      const values = verb === "HGET" ? [reply] : Array.isArray(reply) ? reply : [];
      const row: Record<string, unknown> = {};
      fields.forEach((f, i) => (row[f] = values[i] ?? undefined));
      if (Object.values(row).every((v) => v === null || v === undefined)) return IGNORE_NOT_FOUND;
      return await checkSelected(
        cfg.passwordHashAlgorithm,
        vars,
        row.password_hash ?? row.password,
        row.salt,
        row.is_superuser,
      );
    },
    () => conn.close(),
  );
}

export function sqlAuthenticator(
  cfg: SqlAuthnConfig,
  metrics: AuthMetrics,
  shards?: number,
): Authenticator {
  const conn = sqlConnector(cfg.backend, cfg, shards);
  const q = parseSql(cfg.query, AUTHN_VARS, conn.marker);
  return new BackendAuthenticator(
    `password_based:${cfg.backend}`,
    cfg.queryTimeout,
    metrics,
    async (vars) => {
      const rows = await conn.query(q.sql, sqlValues(q, vars));
      const row = rows[0];
      if (!row) return IGNORE_NOT_FOUND;
      const get = (k: string) => row[Object.keys(row).find((c) => c.toLowerCase() === k) ?? k];
      return await checkSelected(
        cfg.passwordHashAlgorithm,
        vars,
        get("password_hash") ?? get("password"),
        get("salt"),
        get("is_superuser"),
      );
    },
    () => conn.close(),
  );
}

export function mongoAuthenticator(
  cfg: MongoAuthnConfig,
  metrics: AuthMetrics,
  shards?: number,
): Authenticator {
  const conn = new MongoConnector(cfg, shards);
  return new BackendAuthenticator(
    "password_based:mongodb",
    cfg.queryTimeout,
    metrics,
    async (vars) => {
      const [doc] = await conn.find(buildMongoFilter(cfg.filter, vars), 1);
      if (!doc) return IGNORE_NOT_FOUND;
      return await checkSelected(
        cfg.passwordHashAlgorithm,
        vars,
        doc[cfg.passwordHashField],
        doc[cfg.saltField],
        doc[cfg.isSuperuserField],
      );
    },
    () => conn.close(),
  );
}

/**
 * The Mongo filter of a client: each string value rendered as a value, so a username such as
 * `{"$ne": null}` stays a string to compare, never an operator.
 */
export function buildMongoFilter(
  filter: Readonly<Record<string, unknown>>,
  vars: Vars,
): Record<string, unknown> {
  return renderMap(filter, vars, AUTHN_VARS);
}

export function ldapAuthenticator(
  cfg: LdapAuthnConfig,
  metrics: AuthMetrics,
  shards?: number,
): Authenticator {
  const conn = new LdapConnector(cfg, shards);
  const base = parseTemplate(cfg.baseDn, AUTHN_VARS);
  const filter = parseTemplate(cfg.filter, AUTHN_VARS);
  const method = cfg.method;
  const superAttr = method.type === "hash" ? method.isSuperuserAttribute : "isSuperuser";
  const bindPw = method.type === "bind" ? parseTemplate(method.bindPassword, AUTHN_VARS) : null;
  const attrs = method.type === "hash" ? [method.passwordAttribute, superAttr] : [superAttr];
  return new BackendAuthenticator(
    "password_based:ldap",
    cfg.queryTimeout,
    metrics,
    async (vars) => {
      const entries = await conn.search(
        render(base, vars, escapeLdapDn),
        render(filter, vars, escapeLdapFilter),
        attrs,
      );
      const entry = entries[0];
      if (!entry) return IGNORE_NOT_FOUND;
      const superuser = isTruthy(attrText(entry, superAttr)?.toLowerCase());
      if (bindPw) {
        return passwordAnswer(
          await conn.checkBind(entry.dn, render(bindPw, vars)),
          superuser,
        );
      }
      const stored = attrText(entry, (method as { passwordAttribute: string }).passwordAttribute);
      if (stored === undefined) return IGNORE_NOT_FOUND;
      return passwordAnswer(ldapPasswordMatches(stored, vars.password ?? ""), superuser);
    },
    () => conn.close(),
  );
}

export function httpAuthenticator(
  cfg: HttpAuthnConfig,
  metrics: AuthMetrics,
  shards?: number,
): Authenticator {
  const conn = new HttpConnector(cfg, shards);
  const url = parseTemplate(cfg.url, AUTHN_VARS);
  const headers = Object.entries(cfg.headers).map(([k, v]) =>
    [k.toLowerCase(), parseTemplate(v, AUTHN_VARS)] as const
  );
  return new BackendAuthenticator(
    "password_based:http",
    cfg.requestTimeout,
    metrics,
    async (vars) => {
      const h: Record<string, string> = {
        "accept": "application/json",
        "cache-control": "no-cache",
        "keep-alive": "timeout=30, max=1000",
      };
      for (const [k, t] of headers) h[k] = headerValue(render(t, vars));
      const body = renderMap(cfg.body, vars, AUTHN_VARS);
      const init: { method: string; headers: Record<string, string>; body?: string } = {
        method: cfg.method.toUpperCase(),
        headers: h,
      };
      let target = render(url, vars, encodeURIComponent);
      if (cfg.method === "post") {
        h["content-type"] ??= "application/json";
        init.body = h["content-type"].includes("x-www-form-urlencoded")
          ? new URLSearchParams(body as Record<string, string>).toString()
          : JSON.stringify(body);
      } else {
        delete h["content-type"];
        if (Object.keys(body).length > 0) {
          target += (target.includes("?") ? "&" : "?") +
            new URLSearchParams(body as Record<string, string>).toString();
        }
      }
      const res = await conn.request(target, init, cfg.requestTimeout);
      if (res.status === 204) return { result: "allow", superuser: false };
      if (res.status !== 200) return { result: "ignore", reason: `HTTP status ${res.status}` };
      return httpAnswer(parseHttpBody(res.contentType, res.body));
    },
    () => conn.close(),
    false,
  );
}

/** EMQX's HTTP authentication body: result, is_superuser, client_attrs, expire_at, acl. */
export function httpAnswer(b: Record<string, unknown>): AuthnAnswer {
  if (b.result === "deny") {
    return { result: "deny", reasonCode: RC_NOT_AUTHORIZED, reason: "denied by the HTTP service" };
  }
  if (b.result !== "allow") return { result: "ignore", reason: "HTTP result ignore" };
  const out: { -readonly [K in keyof AuthnAllow]: AuthnAllow[K] } = {
    result: "allow",
    superuser: isTruthy(b.is_superuser),
  };
  if (typeof b.client_attrs === "object" && b.client_attrs !== null) {
    out.clientAttrs = Object.fromEntries(
      Object.entries(b.client_attrs).filter(([, v]) => typeof v === "string") as [string, string][],
    );
  }
  const exp = Number(b.expire_at);
  if (Number.isFinite(exp) && exp * 1000 > Date.now()) out.expireAt = exp * 1000;
  if (b.acl !== undefined) {
    try {
      out.acl = compileClientAcl(b.acl);
    } catch {
      return { result: "ignore", reason: "HTTP answer has an invalid acl" };
    }
  }
  return out;
}
