/**
 * Bans (EMQX `emqx_mgmt_api_banned`): `GET /banned` (paged, at most one filter), `POST /banned`,
 * `DELETE /banned` (all), `DELETE /banned/{as}/{who}`. A ban is added on every isolate and kicks
 * the connected clients it covers (BrokerControl.addBan).
 *
 * @module
 */

import { z } from "zod";
import { BAN_AS, type BanAs, type BanEntry } from "../auth/mod.ts";
import type { BrokerControl } from "../supervisor/broker_control.ts";
import { ApiError, badRequest, json, noContent } from "./_http.ts";
import { paging } from "./_schemas.ts";
import { type Route, route } from "./router.ts";

const TAG = "Banned";
const FILTERS = [
  "clientid",
  "username",
  "peerhost",
  "like_clientid",
  "like_username",
  "like_peerhost",
  "like_peerhost_net",
] as const;

/** RFC 3339 or epoch seconds (EMQX takes both) → epoch ms. */
const time = z.union([z.string(), z.number().int().min(0)]).transform((v, ctx) => {
  if (v === "infinity") return Infinity;
  const ms = typeof v === "number" ? v * 1000 : /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "an RFC 3339 time or epoch seconds" });
    return z.NEVER;
  }
  return ms;
});

const banBody = z.object({
  as: z.enum(BAN_AS as unknown as [BanAs, ...BanAs[]]),
  who: z.string().min(1).max(1024),
  by: z.string().max(256).optional(),
  reason: z.string().max(1024).optional(),
  at: time.optional(),
  until: time.optional(),
});
type BanBody = z.output<typeof banBody>;

const listQuery = z.object({
  ...paging,
  ...Object.fromEntries(FILTERS.map((f) => [f, z.string().optional()])),
}) as z.ZodType<{ page?: number; limit?: number } & Partial<Record<string, string>>>;

/** EMQX's ban object: times as RFC 3339, `until` "infinity" when it never ends. */
export function banJson(b: BanEntry): Record<string, unknown> {
  return {
    as: b.as,
    who: b.who,
    by: b.by,
    reason: b.reason,
    at: new Date(b.at).toISOString(),
    until: Number.isFinite(b.until) ? new Date(b.until).toISOString() : "infinity",
  };
}

function matches(b: BanEntry, key: string, value: string): boolean {
  const field = key.replace(/^like_/, "").replace(/_net$/, "");
  const exact = !key.startsWith("like_");
  if (field === "peerhost") {
    if (key === "like_peerhost_net") return b.as === "peerhost_net" && b.who.includes(value);
    if (exact) return b.as === "peerhost" && b.who === value;
    return b.as.startsWith("peerhost") && safeRegex(value).test(b.who);
  }
  if (!b.as.startsWith(field)) return false;
  return exact ? b.who === value : safeRegex(value).test(b.who);
}

function safeRegex(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw badRequest(`like_*: bad regular expression: ${(err as Error).message}`);
  }
}

/** The routes; see the file header. */
export function bannedRoutes(control: BrokerControl): Route[] {
  return [
    route<{ page?: number; limit?: number } & Partial<Record<string, string>>>({
      method: "GET",
      path: "/banned",
      tag: TAG,
      summary: "List bans (paged; at most one of the filters)",
      query: listQuery,
      responses: { 200: "{data: [ban], meta}", 400: "BAD_REQUEST" },
      handle({ query }) {
        const given = FILTERS.filter((f) => query[f] !== undefined);
        if (given.length > 1) throw badRequest("too_many_filters");
        const page = query.page ?? 1;
        const limit = query.limit ?? 100;
        let all = control.listBans();
        const [f] = given;
        if (f) all = all.filter((b) => matches(b, f, query[f]!));
        const data = all.slice((page - 1) * limit, page * limit).map(banJson);
        return json({
          data,
          meta: { page, limit, count: all.length, hasnext: page * limit < all.length },
        });
      },
    }),
    route<undefined, BanBody>({
      method: "POST",
      path: "/banned",
      tag: TAG,
      summary: "Ban a client id, user name or address (regex / CIDR forms too)",
      body: banBody,
      responses: { 200: "the ban", 400: "ALREADY_EXISTS or BAD_REQUEST" },
      async handle({ body }) {
        let r;
        try {
          r = await control.addBan(body);
        } catch (err) {
          if (err instanceof TypeError) throw badRequest(err.message);
          throw err;
        }
        if ("exists" in r) {
          throw new ApiError(400, "ALREADY_EXISTS", JSON.stringify(banJson(r.exists)));
        }
        return json(banJson(r.added));
      },
    }),
    route({
      method: "DELETE",
      path: "/banned",
      tag: TAG,
      summary: "Remove every ban",
      responses: { 204: "cleared" },
      async handle() {
        for (const b of control.listBans()) await control.deleteBan(b.as, b.who);
        return noContent();
      },
    }),
    route({
      method: "DELETE",
      path: "/banned/{as}/{who}",
      tag: TAG,
      summary: "Remove one ban",
      responses: { 204: "removed", 400: "BAD_REQUEST", 404: "NOT_FOUND" },
      async handle({ params }) {
        const as = params.as as BanAs;
        if (!BAN_AS.includes(as)) throw badRequest(`as: one of ${BAN_AS.join(", ")}`);
        const who = params.who ?? "";
        if (!await control.deleteBan(as, who)) {
          throw new ApiError(404, "NOT_FOUND", `${as}: ${who} not found`);
        }
        return noContent();
      },
    }),
  ];
}
