/**
 * `GET /configs` (the running configuration with EMQX's key names, secrets masked) and
 * `PUT /configs`: a JSON document of the keys to change (snake_case, nested as in the YAML,
 * e.g. `{"mqtt": {"max_inflight": 64}}`), laid over the node's configuration (file, environment,
 * flags) and applied as SIGHUP does: the keys that can change at run time take effect on every
 * shard without closing a connection, the others are reported as needing a restart. Changes made
 * here last until the next restart or SIGHUP, which re-read the file.
 *
 * @module
 */

import { z } from "zod";
import type { Config } from "../config/types.ts";
import { ApiError, badRequest, json } from "./_http.ts";
import { type Route, route } from "./router.ts";

/** What a PUT /configs did (src/supervisor/reload.ts ReloadResult). */
export interface ConfigChange {
  readonly applied: string[];
  readonly restartRequired: string[];
}

/** Bound on the keys of one PUT (a whole config has a few hundred). */
const MAX_KEYS = 10_000;

/** camelCase keys to EMQX's snake_case, secrets masked. */
export function configJson(v: unknown, key = ""): unknown {
  if (/password|secret/i.test(key) && typeof v === "string" && v !== "") return "******";
  if (Array.isArray(v)) return v.map((x) => configJson(x));
  if (v === Infinity) return "infinity";
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => {
      const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      return [snake, configJson(x, snake)];
    }),
  );
}

/**
 * A nested document as `key.path=value` sets: objects nest, anything else (lists included) is one
 * value written as JSON, which the config loader reads as YAML.
 *
 * @example
 * ```ts
 * import { toSets } from "./routes_configs.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(toSets({ mqtt: { max_inflight: 64 }, log: { level: "debug" } }), [
 *   "mqtt.max_inflight=64",
 *   'log.level="debug"',
 * ]);
 * ```
 */
export function toSets(doc: Record<string, unknown>, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (!/^[A-Za-z0-9_-]+$/.test(k)) throw badRequest(`${prefix}${k}: not a configuration key`);
    const path = `${prefix}${k}`;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      out.push(...toSets(v as Record<string, unknown>, `${path}.`));
    } else out.push(`${path}=${JSON.stringify(v)}`);
    if (out.length > MAX_KEYS) throw badRequest(`body: more than ${MAX_KEYS} keys`);
  }
  return out;
}

/** The routes; see the file header. */
export function configRoutes(
  current: () => Config,
  apply: ((sets: readonly string[]) => Promise<ConfigChange>) | undefined,
): Route[] {
  return [
    route({
      method: "GET",
      path: "/configs",
      tag: "Configs",
      summary: "The running configuration (EMQX's key names; secrets masked)",
      responses: { 200: "the configuration" },
      handle() {
        const { warnings: _w, ...rest } = current();
        return json(configJson(rest));
      },
    }),
    route<undefined, Record<string, unknown>>({
      method: "PUT",
      path: "/configs",
      tag: "Configs",
      summary: "Change keys at run time; the answer says which applied and which need a restart",
      body: z.record(z.string(), z.unknown()),
      responses: {
        200: "{applied: [keys], restart_required: [keys]}",
        400: "BAD_REQUEST naming the key",
        501: "NOT_IMPLEMENTED (no configuration source)",
      },
      async handle({ body }) {
        if (!apply) {
          throw new ApiError(501, "NOT_IMPLEMENTED", "This node cannot re-read its configuration");
        }
        let r: ConfigChange;
        try {
          r = await apply(toSets(body));
        } catch (err) {
          if (err instanceof ApiError || !(err instanceof Error)) throw err;
          // A shard that did not take the change is the router's 503, not the caller's fault.
          if (err.name === "ShardRpcError") throw err;
          throw badRequest(err.message);
        }
        return json({ applied: r.applied, restart_required: r.restartRequired });
      },
    }),
  ];
}
