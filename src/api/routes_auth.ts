/**
 * The built-in security data (EMQX `emqx_authn_api`, `emqx_authz_api_mnesia`): users of
 * `password_based:built_in_database` at `/authentication/{id}/users[/{user_id}]`, rules of the
 * `built_in_database` authorization source at
 * `/authorization/sources/built_in_database/rules/{users|clients}[/{name}]` and `.../rules/all`,
 * and the configured chain and sources (`GET /authentication`, `GET /authorization/sources`).
 * Passwords are hashed here once, with the authenticator's algorithm, and the result is written
 * to every shard; reads come from one shard.
 *
 * @module
 */

import { z } from "zod";
import { BUILTIN_ID, hashPassword } from "../auth/mod.ts";
import type { BuiltinDbAuthnConfig, Config } from "../config/types.ts";
import type { BrokerControl, Json } from "../supervisor/broker_control.ts";
import { ApiError, badRequest, json, noContent } from "./_http.ts";
import { checkRules } from "./_acl_rules_check.ts";
import { paging, qBool } from "./_schemas.ts";
import { type Route, route } from "./router.ts";

const userQuery = z.object({
  ...paging,
  like_user_id: z.string().optional(),
  is_superuser: qBool().optional(),
});
type UserQuery = z.output<typeof userQuery>;
const newUser = z.object({
  user_id: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
  is_superuser: z.boolean().default(false),
});
const changeUser = z.object({
  password: z.string().min(1).max(1024).optional(),
  is_superuser: z.boolean().optional(),
});

/** EMQX's rule: topic, permission, action, optional qos list and retain. */
const rule = z.object({
  topic: z.string().min(1).max(65535),
  permission: z.enum(["allow", "deny"]),
  action: z.enum(["publish", "subscribe", "all"]),
  qos: z.array(z.union([z.literal(0), z.literal(1), z.literal(2)])).optional(),
  retain: z.union([z.boolean(), z.literal("all")]).optional(),
});
const rules = z.array(rule).max(10_000);
const ruleQuery = z.object({
  ...paging,
  like_username: z.string().optional(),
  like_clientid: z.string().optional(),
});
type RuleQuery = z.output<typeof ruleQuery>;

const KINDS = { users: "username", clients: "clientid" } as const;

function builtin(config: Config, id: string): BuiltinDbAuthnConfig {
  const a = config.authentication.find((x): x is BuiltinDbAuthnConfig =>
    x.mechanism === "password_based" && "backend" in x && x.backend === "built_in_database"
  );
  if (id !== BUILTIN_ID || !a) {
    throw new ApiError(404, "NOT_FOUND", `Authenticator not found: ${id}`);
  }
  return a;
}

function kindOf(segment: string | undefined): "username" | "clientid" {
  const k = KINDS[segment as keyof typeof KINDS];
  if (!k) throw new ApiError(404, "NOT_FOUND", `No such rules type: ${segment}`);
  return k;
}

function builtinSource(config: Config): void {
  if (!config.authorization.sources.some((s) => s.type === "built_in_database")) {
    throw new ApiError(404, "NOT_FOUND", "Authorization source not found: built_in_database");
  }
}

/** Masks secrets of a config section (passwords, secrets) and renames to snake_case. */
function masked(v: unknown, key = ""): unknown {
  if (/password|secret/i.test(key) && typeof v === "string" && v !== "") return "******";
  if (Array.isArray(v)) return v.map((x) => masked(x));
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => {
      const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      return [snake, masked(x, snake)];
    }),
  );
}

/**
 * The routes; see the file header. `config` is the running configuration (a reload changes the
 * chain, the sources and `max_rules`; what these routes show and check follows it).
 */
export function authRoutes(control: BrokerControl, config: () => Config): Route[] {
  const userPath = "/authentication/{id}/users";
  const rulesPath = "/authorization/sources/built_in_database/rules";
  return [
    route({
      method: "GET",
      path: "/authentication",
      tag: "Authentication",
      summary: "The authentication chain as configured (secrets masked)",
      responses: { 200: "[authenticator]" },
      handle: () =>
        json(
          config().authentication.map((a) => ({
            id: "backend" in a ? `${a.mechanism}:${a.backend}` : a.mechanism,
            ...(masked(a) as Json),
          })),
        ),
    }),
    route({
      method: "GET",
      path: "/authorization/sources",
      tag: "Authorization",
      summary: "The authorization sources and settings as configured (secrets masked)",
      responses: { 200: "{sources: [...], no_match, deny_action}" },
      handle: () => json(masked(config().authorization)),
    }),
    route<UserQuery>({
      method: "GET",
      path: userPath,
      tag: "Authentication",
      summary: "Users of the built-in database, paged",
      query: userQuery,
      responses: { 200: "{data: [{user_id, is_superuser}], meta}", 404: "NOT_FOUND" },
      async handle({ params, query }) {
        builtin(config(), params.id ?? "");
        const { page, limit, ...filter } = query;
        const r = await control.authnUsers({
          ...(page === undefined ? {} : { page }),
          ...(limit === undefined ? {} : { limit }),
          filter: filter as Json,
        });
        return json(r);
      },
    }),
    route<undefined, z.output<typeof newUser>>({
      method: "POST",
      path: userPath,
      tag: "Authentication",
      summary: "Add a user to the built-in database",
      body: newUser,
      responses: { 201: "{user_id, is_superuser}", 404: "NOT_FOUND", 409: "ALREADY_EXISTS" },
      async handle({ params, body }) {
        const a = builtin(config(), params.id ?? "");
        if (await control.authnUser(body.user_id)) {
          throw new ApiError(409, "ALREADY_EXISTS", `User ${body.user_id} already exists`);
        }
        const h = await hashPassword(a.passwordHashAlgorithm, body.password);
        await control.putAuthnUser({
          userId: body.user_id,
          isSuperuser: body.is_superuser,
          passwordHash: h.passwordHash,
          salt: h.salt,
        });
        return json({ user_id: body.user_id, is_superuser: body.is_superuser }, 201);
      },
    }),
    route({
      method: "GET",
      path: `${userPath}/{user_id}`,
      tag: "Authentication",
      summary: "One user of the built-in database",
      responses: { 200: "{user_id, is_superuser}", 404: "NOT_FOUND" },
      async handle({ params }) {
        builtin(config(), params.id ?? "");
        const u = await control.authnUser(params.user_id ?? "");
        if (!u) throw new ApiError(404, "NOT_FOUND", "User not found");
        return json(u);
      },
    }),
    route<undefined, z.output<typeof changeUser>>({
      method: "PUT",
      path: `${userPath}/{user_id}`,
      tag: "Authentication",
      summary: "Change a user's password or superuser flag",
      body: changeUser,
      responses: { 200: "{user_id, is_superuser}", 404: "NOT_FOUND" },
      async handle({ params, body }) {
        const a = builtin(config(), params.id ?? "");
        const userId = params.user_id ?? "";
        const u = await control.authnUser(userId);
        if (!u) throw new ApiError(404, "NOT_FOUND", "User not found");
        if (body.password === undefined) {
          throw badRequest("password: required (the stored hash cannot be re-used)");
        }
        const isSuperuser = body.is_superuser ?? u.is_superuser === true;
        const h = await hashPassword(a.passwordHashAlgorithm, body.password);
        await control.putAuthnUser({
          userId,
          isSuperuser,
          passwordHash: h.passwordHash,
          salt: h.salt,
        });
        return json({ user_id: userId, is_superuser: isSuperuser });
      },
    }),
    route({
      method: "DELETE",
      path: `${userPath}/{user_id}`,
      tag: "Authentication",
      summary: "Remove a user from the built-in database",
      responses: { 204: "removed", 404: "NOT_FOUND" },
      async handle({ params }) {
        builtin(config(), params.id ?? "");
        if (!await control.deleteAuthnUser(params.user_id ?? "")) {
          throw new ApiError(404, "NOT_FOUND", "User not found");
        }
        return noContent();
      },
    }),
    route({
      method: "GET",
      path: `${rulesPath}/all`,
      tag: "Authorization",
      summary: "The built-in rules that apply to every client",
      responses: { 200: "{rules}", 404: "NOT_FOUND" },
      async handle() {
        builtinSource(config());
        return json({ rules: await control.aclRule("all", "") ?? [] });
      },
    }),
    route<undefined, { rules: z.output<typeof rules> }>({
      method: "POST",
      path: `${rulesPath}/all`,
      tag: "Authorization",
      summary: "Replace the built-in rules for every client",
      body: z.object({ rules }),
      responses: { 204: "set", 400: "BAD_REQUEST" },
      async handle({ body }) {
        builtinSource(config());
        checkRules(config(), "all", "", body.rules);
        await control.setAclRules("all", "", body.rules);
        return noContent();
      },
    }),
    route({
      method: "DELETE",
      path: `${rulesPath}/all`,
      tag: "Authorization",
      summary: "Remove the built-in rules for every client",
      responses: { 204: "removed" },
      async handle() {
        builtinSource(config());
        await control.deleteAclRules("all", "");
        return noContent();
      },
    }),
    route<RuleQuery>({
      method: "GET",
      path: `${rulesPath}/{type}`,
      tag: "Authorization",
      summary: "Built-in rules per username (type users) or client id (type clients), paged",
      query: ruleQuery,
      responses: { 200: "{data: [{username | clientid, rules}], meta}", 404: "NOT_FOUND" },
      async handle({ params, query }) {
        builtinSource(config());
        const kind = kindOf(params.type);
        const like = kind === "username" ? query.like_username : query.like_clientid;
        return json(
          await control.aclRules(kind, {
            ...(query.page === undefined ? {} : { page: query.page }),
            ...(query.limit === undefined ? {} : { limit: query.limit }),
            ...(like === undefined ? {} : { like }),
          }),
        );
      },
    }),
    route<undefined, Json[]>({
      method: "POST",
      path: `${rulesPath}/{type}`,
      tag: "Authorization",
      summary: "Set the rules of usernames / client ids: [{username | clientid, rules}]",
      body: z.array(z.object({
        username: z.string().min(1).optional(),
        clientid: z.string().min(1).optional(),
        rules,
      })).min(1).max(1000),
      responses: { 204: "set", 400: "BAD_REQUEST", 404: "NOT_FOUND" },
      async handle({ params, body }) {
        builtinSource(config());
        const kind = kindOf(params.type);
        body.forEach((e, i) => {
          if (typeof e[kind] !== "string") throw badRequest(`${i}.${kind}: required`);
          checkRules(config(), kind, e[kind] as string, e.rules as Json[]);
        });
        for (const e of body) {
          await control.setAclRules(kind, e[kind] as string, e.rules as Json[]);
        }
        return noContent();
      },
    }),
    route({
      method: "GET",
      path: `${rulesPath}/{type}/{name}`,
      tag: "Authorization",
      summary: "The built-in rules of one username / client id",
      responses: { 200: "{username | clientid, rules}", 404: "NOT_FOUND" },
      async handle({ params }) {
        builtinSource(config());
        const kind = kindOf(params.type);
        const r = await control.aclRule(kind, params.name ?? "");
        if (!r) throw new ApiError(404, "NOT_FOUND", `Not Found: ${params.name}`);
        return json({ [kind]: params.name, rules: r });
      },
    }),
    route<undefined, { rules: z.output<typeof rules> }>({
      method: "PUT",
      path: `${rulesPath}/{type}/{name}`,
      tag: "Authorization",
      summary: "Replace the built-in rules of one username / client id",
      body: z.object({ rules }).passthrough(),
      responses: { 204: "set", 400: "BAD_REQUEST" },
      async handle({ params, body }) {
        builtinSource(config());
        const kind = kindOf(params.type);
        checkRules(config(), kind, params.name ?? "", body.rules);
        await control.setAclRules(kind, params.name ?? "", body.rules);
        return noContent();
      },
    }),
    route({
      method: "DELETE",
      path: `${rulesPath}/{type}/{name}`,
      tag: "Authorization",
      summary: "Remove the built-in rules of one username / client id",
      responses: { 204: "removed", 404: "NOT_FOUND" },
      async handle({ params }) {
        builtinSource(config());
        if (!await control.deleteAclRules(kindOf(params.type), params.name ?? "")) {
          throw new ApiError(404, "NOT_FOUND", `Not Found: ${params.name}`);
        }
        return noContent();
      },
    }),
  ];
}
