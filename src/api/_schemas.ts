/**
 * Shared zod pieces of the API's request schemas (private to src/api/): query-string numbers
 * and booleans, repeatable query keys, EMQX's paging. Query values arrive as strings; these
 * parse them and say what was expected, and keep an input type the OpenAPI document can show.
 *
 * @module
 */

import { z } from "zod";

/** An integer in [min, max] written in the query string. */
export function qInt(min: number, max: number) {
  return z.string().regex(/^-?\d+$/, { message: `an integer ${min}-${max}` })
    .transform(Number)
    .pipe(
      z.number().int().min(min, { message: `at least ${min}` }).max(max, {
        message: `at most ${max}`,
      }),
    );
}

/** true or false in the query string. */
export function qBool() {
  return z.enum(["true", "false"], { message: "true or false" }).transform((v) => v === "true");
}

/** A key that may be repeated (`clientid=a&clientid=b`): always a list. */
export function qList() {
  return z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
}

/** EMQX's paging: page from 1, limit 1-10000 (default 100). */
export const paging = {
  page: qInt(1, 1_000_000_000).optional(),
  limit: qInt(1, 10_000).optional(),
};

/** A date in the query: RFC 3339 or epoch seconds; epoch ms out. */
export function qTime() {
  return z.string().transform((v, ctx) => {
    const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: "an RFC 3339 time or epoch seconds" });
      return z.NEVER;
    }
    return ms;
  });
}

/** MQTT QoS. */
export const qos = z.union([z.literal(0), z.literal(1), z.literal(2)], {
  message: "0, 1 or 2",
});
