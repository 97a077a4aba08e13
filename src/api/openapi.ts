/**
 * The OpenAPI 3.0 document of /api/v5 (`GET /api-docs/swagger.json`), generated from the route
 * table: the same zod schemas that validate each request give its parameters and body, so the
 * document cannot drift from what the server accepts.
 *
 * @module
 */

import { z } from "zod";
import { VERSION } from "../version.ts";
import type { Route } from "./router.ts";

type JsonSchema = Record<string, unknown>;

function schemaOf(s: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "openapi-3.0" });
  delete (out as JsonSchema).$schema;
  return out as JsonSchema;
}

function parameters(r: Route): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const m of r.path.matchAll(/\{(\w+)\*?\}/g)) {
    out.push({ name: m[1], in: "path", required: true, schema: { type: "string" } });
  }
  if (r.query) {
    const q = schemaOf(r.query);
    const props = (q.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((q.required ?? []) as string[]);
    for (const [name, schema] of Object.entries(props)) {
      out.push({ name, in: "query", required: required.has(name), schema });
    }
  }
  return out;
}

/** The document for `routes`. */
export function openApiDocument(routes: readonly Route[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const path = r.path.replace(/\{(\w+)\*\}/g, "{$1}");
    const op: JsonSchema = {
      tags: [r.tag],
      summary: r.summary,
      parameters: parameters(r),
      responses: Object.fromEntries(
        Object.entries(r.responses).map(([code, description]) => [code, { description }]),
      ),
      ...(r.access === "public" ? { security: [] } : {}),
    };
    if (r.body) {
      op.requestBody = {
        required: true,
        content: { "application/json": { schema: schemaOf(r.body) } },
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.0.0",
    info: { title: "Culex HTTP API", version: VERSION },
    servers: [{ url: "/api/v5" }],
    components: {
      securitySchemes: {
        basicAuth: { type: "http", scheme: "basic" },
        bearerAuth: { type: "http", scheme: "bearer" },
      },
    },
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    paths,
  };
}
