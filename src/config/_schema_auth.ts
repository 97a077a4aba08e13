/**
 * Schema of `authentication` (the chain) and `authorization` (sources, cache), EMQX 5.8 keys
 * and defaults, mapped onto types_auth.ts. Private to src/config/ (schema.ts wires it in).
 * Templates are checked here, so an unknown placeholder is a ConfigError naming the key and
 * line. Pure: never reads the files it names.
 */

import { z } from "zod";
import { bool, duration, int, MAX_TIMER_MS, oneOf, readableFile, text } from "./_fields.ts";
import {
  anyText,
  AUTHN_VARS,
  AUTHZ_VARS,
  hashAlgorithm,
  ldapMethod,
  nonEmpty,
  template,
  templateMap,
} from "./_auth_fields.ts";
import type {
  AuthenticatorConfig,
  AuthorizationConfig,
  AuthzSourceConfig,
  PasswordHashConfig,
} from "./types_auth.ts";

const READ_ONLY_HASH: PasswordHashConfig = { name: "sha256", saltPosition: "prefix" };
const BUILTIN_HASH: PasswordHashConfig = { name: "sha256", saltPosition: "suffix" };

const backendCommon = {
  enable: bool().default(true),
  pool_size: int(1, 1024).default(8),
  query_timeout: duration(1, MAX_TIMER_MS).default(5_000),
};

const redisConn = {
  ...backendCommon,
  redis_type: oneOf(["single"] as const).default("single"),
  server: nonEmpty(`"host:port"`).default("127.0.0.1:6379"),
  database: int(0, 1_000_000).default(0),
  username: anyText().default(""),
  password: anyText().default(""),
};

const sqlConn = (port: number, user: string) => ({
  ...backendCommon,
  server: nonEmpty(`"host:port"`).default(`127.0.0.1:${port}`),
  database: nonEmpty("a database name").default("mqtt"),
  username: anyText().default(user),
  password: anyText().default(""),
});

const mongoConn = (allowed: readonly string[], collection: string) => ({
  ...backendCommon,
  mongo_type: oneOf(["single"] as const).default("single"),
  server: nonEmpty(`"host:port"`).default("127.0.0.1:27017"),
  database: nonEmpty("a database name").default("mqtt"),
  collection: nonEmpty("a collection name").default(collection),
  username: anyText().default(""),
  password: anyText().default(""),
  filter: templateMap(allowed, false).default({ username: "${username}" }),
});

const ldapConn = (allowed: readonly string[]) => ({
  ...backendCommon,
  server: nonEmpty(`"host:port"`).default("127.0.0.1:389"),
  username: anyText().default(""),
  password: anyText().default(""),
  base_dn: template(allowed, true).prefault(""),
  filter: template(allowed).default("(objectClass=mqttUser)"),
});

const httpConn = (allowed: readonly string[], timeout: number) => ({
  enable: bool().default(true),
  method: oneOf(["get", "post"] as const).default("post"),
  url: template(allowed, true).prefault(""),
  headers: templateMap(allowed, true).default({}),
  body: templateMap(allowed, false).default({}),
  request_timeout: duration(1, MAX_TIMER_MS).default(timeout),
  pool_size: int(1, 1024).default(8),
});

const simpleRule = z.strictObject({
  permission: oneOf(["allow", "deny"] as const),
  clientid: anyText().optional(),
  username: anyText().optional(),
  peerhost: text(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, "an IP address or CIDR range").optional(),
  is_superuser: bool().default(false),
});

const pw = { enable: bool().default(true), mechanism: z.literal("password_based") };

/** One authenticator; `mechanism` (and `backend`) choose the shape. */
const authenticator = z.discriminatedUnion("mechanism", [
  z.discriminatedUnion("backend", [
    z.strictObject({
      ...pw,
      backend: z.literal("built_in_database"),
      user_id_type: oneOf(["username", "clientid"] as const).default("username"),
      password_hash_algorithm: hashAlgorithm(BUILTIN_HASH),
      bootstrap_file: readableFile().default(""),
      bootstrap_type: oneOf(["plain", "hash"] as const).default("plain"),
    }),
    z.strictObject({
      ...pw,
      backend: z.literal("redis"),
      ...redisConn,
      cmd: template(AUTHN_VARS, true).default(
        "HMGET mqtt_user:${username} password_hash salt is_superuser",
      ),
      password_hash_algorithm: hashAlgorithm(READ_ONLY_HASH),
    }),
    ...(["postgresql", "mysql"] as const).map((b) =>
      z.strictObject({
        ...pw,
        backend: z.literal(b),
        ...sqlConn(b === "mysql" ? 3306 : 5432, b === "mysql" ? "root" : "postgres"),
        query: template(AUTHN_VARS, true).default(
          "SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1",
        ),
        password_hash_algorithm: hashAlgorithm(READ_ONLY_HASH),
      })
    ),
    z.strictObject({
      ...pw,
      backend: z.literal("mongodb"),
      ...mongoConn(AUTHN_VARS, "mqtt_user"),
      password_hash_field: nonEmpty("a field name").default("password_hash"),
      salt_field: nonEmpty("a field name").default("salt"),
      is_superuser_field: nonEmpty("a field name").default("is_superuser"),
      password_hash_algorithm: hashAlgorithm(READ_ONLY_HASH),
    }),
    z.strictObject({
      ...pw,
      backend: z.literal("ldap"),
      ...ldapConn(AUTHN_VARS),
      method: ldapMethod,
    }),
    z.strictObject({ ...pw, backend: z.literal("http"), ...httpConn(AUTHN_VARS, 5_000) }),
  ]),
  z.strictObject({
    enable: bool().default(true),
    mechanism: z.literal("jwt"),
    algorithm: oneOf(["hmac-based", "public-key"] as const).default("hmac-based"),
    secret: anyText().default(""),
    secret_base64_encoded: bool().default(false),
    public_key: anyText().default(""),
    use_jwks: bool().default(false),
    endpoint: anyText().default(""),
    from: oneOf(["password", "username", "cookie"] as const).default("password"),
    verify_claims: templateMap(["clientid", "username"], true).default({}),
    acl_claim_name: nonEmpty("a claim name").default("acl"),
    disconnect_after_expire: bool().default(true),
  }).refine(
    (j) =>
      j.use_jwks
        ? j.endpoint !== ""
        : j.algorithm === "hmac-based"
        ? j.secret !== ""
        : j.public_key !== "",
    {
      message: "secret (hmac-based), public_key (public-key) or endpoint (use_jwks) to be set",
    },
  ),
  z.strictObject({
    enable: bool().default(true),
    mechanism: z.literal("scram"),
    backend: z.literal("built_in_database").default("built_in_database"),
    algorithm: oneOf(["sha256", "sha512"] as const).default("sha256"),
    iteration_count: int(1, 10_000_000).default(4096),
  }),
  z.strictObject({
    enable: bool().default(true),
    mechanism: z.literal("simple"),
    rules: z.array(simpleRule).default([]),
  }),
]).transform((a) => camelize(a) as unknown as AuthenticatorConfig);

const src = { enable: bool().default(true) };

/** One authorization source; `type` chooses the shape. */
const source = z.discriminatedUnion("type", [
  z.strictObject({
    ...src,
    type: z.literal("file"),
    path: readableFile().default(""),
    rules: anyText().default(""),
  }),
  z.strictObject({
    ...src,
    type: z.literal("built_in_database"),
    max_rules: int(1, 1_000_000).default(100),
  }),
  z.strictObject({
    type: z.literal("redis"),
    ...redisConn,
    cmd: template(AUTHZ_VARS, true).default("HGETALL mqtt_acl:${username}"),
  }),
  ...(["postgresql", "mysql"] as const).map((t) =>
    z.strictObject({
      type: z.literal(t),
      ...sqlConn(t === "mysql" ? 3306 : 5432, t === "mysql" ? "root" : "postgres"),
      query: template(AUTHZ_VARS, true).default(
        "SELECT permission, action, topic, qos, retain FROM mqtt_acl WHERE username = ${username}",
      ),
    })
  ),
  z.strictObject({
    type: z.literal("mongodb"),
    ...mongoConn(AUTHZ_VARS, "mqtt_acl"),
    limit: int(1, 100_000).default(1000),
    skip: int(0, 1_000_000).default(0),
  }),
  z.strictObject({
    type: z.literal("ldap"),
    ...ldapConn(AUTHZ_VARS),
    publish_attribute: nonEmpty("an attribute name").default("mqttPublishTopic"),
    subscribe_attribute: nonEmpty("an attribute name").default("mqttSubscriptionTopic"),
    all_attribute: nonEmpty("an attribute name").default("mqttPubSubTopic"),
  }),
  z.strictObject({ type: z.literal("http"), ...httpConn(AUTHZ_VARS, 30_000) }),
]).transform((s) => camelize(s) as unknown as AuthzSourceConfig);

/** `authentication`: a list of authenticators (one mapping is taken as a list of one, as EMQX). */
export const authenticationSchema = z.preprocess(
  (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? [v] : v),
  z.array(authenticator),
).default([]);

/** `authorization`. */
export const authorizationSchema = z.strictObject({
  no_match: oneOf(["allow", "deny"] as const).default("allow"),
  deny_action: oneOf(["ignore", "disconnect"] as const).default("ignore"),
  cache: z.strictObject({
    enable: bool().default(true),
    max_size: int(1, 1_000_000).default(32),
    ttl: duration(1, MAX_TIMER_MS).default(60_000),
    excludes: z.array(anyText()).default([]),
  }).prefault({}),
  sources: z.array(source).default([{ type: "file", enable: true, path: "", rules: "" }]),
}).transform((a): AuthorizationConfig => ({
  noMatch: a.no_match,
  denyAction: a.deny_action,
  cache: {
    enable: a.cache.enable,
    maxSize: a.cache.max_size,
    ttl: a.cache.ttl,
    excludes: a.cache.excludes,
  },
  sources: a.sources,
}));

/** snake_case keys to camelCase, deeply, except inside user maps (headers, body, filter, claims). */
export function camelize(v: unknown, key = ""): unknown {
  if (["headers", "body", "filter", "verify_claims"].includes(key)) return v;
  if (Array.isArray(v)) return v.map((x) => camelize(x));
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).filter(([, x]) => x !== undefined).map((
      [k, x],
    ) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camelize(x, k)]),
  );
}
