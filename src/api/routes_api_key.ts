/**
 * API keys (EMQX `emqx_mgmt_api_api_keys`): `GET|POST /api_key`, `GET|PUT|DELETE
 * /api_key/{name}`. Only a dashboard token may manage keys (an API key gets 401
 * API_KEY_NOT_ALLOW, as EMQX). The secret appears once, in the POST answer.
 *
 * @module
 */

import { z } from "zod";
import { ApiError, badRequest, json, noContent } from "./_http.ts";
import type { ApiKeys } from "./api_keys.ts";
import { type Route, route } from "./router.ts";

const TAG = "API Keys";

/** EMQX takes `expired_at` as RFC 3339 or epoch seconds, or "infinity". */
const expiredAt = z.union([z.string(), z.number().int().min(0)]).transform((v, ctx) => {
  if (v === "infinity") return undefined;
  const ms = typeof v === "number" ? v * 1000 : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "an RFC 3339 time, epoch seconds or infinity" });
    return z.NEVER;
  }
  return Math.floor(ms / 1000);
});

const fields = {
  expired_at: expiredAt.optional(),
  desc: z.string().max(256).optional(),
  enable: z.boolean().optional(),
  role: z.enum(["administrator", "viewer"]).optional(),
};
const createBody = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, {
    message: "1-256 letters, digits, _ or -",
  }),
  ...fields,
});
const updateBody = z.object(fields);
type CreateBody = z.output<typeof createBody>;
type UpdateBody = z.output<typeof updateBody>;

function notFound(name: string): ApiError {
  return new ApiError(404, "NOT_FOUND", `Name NotFound: ${name}`);
}

/** The routes; see the file header. */
export function apiKeyRoutes(keys: ApiKeys): Route[] {
  return [
    route({
      method: "GET",
      path: "/api_key",
      tag: TAG,
      summary: "List API keys (without secrets)",
      access: "token",
      responses: { 200: "[api key]" },
      handle: () => json(keys.list()),
    }),
    route<undefined, CreateBody>({
      method: "POST",
      path: "/api_key",
      tag: TAG,
      summary: "Create an API key; the answer holds its secret, shown only once",
      access: "token",
      body: createBody,
      responses: { 200: "the key with api_secret", 400: "BAD_REQUEST" },
      async handle({ body }) {
        const { name, ...rest } = body;
        if (rest.expired_at !== undefined && rest.expired_at * 1000 <= Date.now()) {
          throw badRequest("expired_at: must be in the future");
        }
        let created;
        try {
          created = await keys.create(name, rest);
        } catch (err) {
          throw badRequest(`name: ${(err as Error).message}`);
        }
        if (!created) throw badRequest("name: Name already existed");
        return json(created);
      },
    }),
    route({
      method: "GET",
      path: "/api_key/{name}",
      tag: TAG,
      summary: "One API key (without its secret)",
      access: "token",
      responses: { 200: "api key", 404: "NOT_FOUND" },
      handle({ params }) {
        const k = keys.get(params.name ?? "");
        if (!k) throw notFound(params.name ?? "");
        return json(k);
      },
    }),
    route<undefined, UpdateBody>({
      method: "PUT",
      path: "/api_key/{name}",
      tag: TAG,
      summary: "Change an API key's expiry, description, enable flag or role",
      access: "token",
      body: updateBody,
      responses: { 200: "api key", 404: "NOT_FOUND" },
      async handle({ params, body }) {
        const k = await keys.update(params.name ?? "", body);
        if (!k) throw notFound(params.name ?? "");
        return json(k);
      },
    }),
    route({
      method: "DELETE",
      path: "/api_key/{name}",
      tag: TAG,
      summary: "Delete an API key",
      access: "token",
      responses: { 204: "deleted", 404: "NOT_FOUND" },
      async handle({ params }) {
        if (!await keys.delete(params.name ?? "")) throw notFound(params.name ?? "");
        return noContent();
      },
    }),
  ];
}
