/**
 * Router of /api/v5: one table of routes, each with its method, EMQX path (`/clients/{clientid}`),
 * who may call it, and the zod schemas of its query and body. The same schemas validate every
 * request (400 BAD_REQUEST naming the field) and generate the OpenAPI document (openapi.ts).
 * Owns matching, validation and the turning of errors into EMQX's `{code, message}`; handlers
 * live in the routes_*.ts modules.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { z } from "zod";
import { ApiError, errorResponse, readBody } from "./_http.ts";
import type { ApiAuth, Principal } from "./auth.ts";
import { ShardRpcError } from "../supervisor/shard_rpc.ts";

/** Who may call a route. */
export type Access =
  /** No credentials (`/status`, `/login`, Prometheus). */
  | "public"
  /** A token or an API key. */
  | "any"
  /** A dashboard token only (API keys get 401 API_KEY_NOT_ALLOW, as EMQX). */
  | "token";

/** What a handler gets. */
export interface RouteContext<Q, B> {
  readonly request: Request;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Q;
  readonly body: B;
  readonly who: Principal;
  /** The peer's address (for logs). */
  readonly remote: string;
}

/** One route; `Q` and `B` are the parsed query and body. */
export interface RouteSpec<Q, B> {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** EMQX's path under /api/v5; `{name}` is a segment, a last `{name*}` takes the rest. */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly access?: Access;
  /** Allowed to a token whose admin must still change the default password. */
  readonly duringPasswordChange?: boolean;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** Status → description, for the OpenAPI document. */
  readonly responses: Readonly<Record<number, string>>;
  handle(ctx: RouteContext<Q, B>): Promise<Response> | Response;
}

/** A route with its types erased (the table holds many). */
export type Route = RouteSpec<unknown, unknown>;

/** Declares a route (keeps the handler's types checked against its schemas). */
export function route<Q = undefined, B = undefined>(spec: RouteSpec<Q, B>): Route {
  return spec as unknown as Route;
}

const NOBODY: Principal = { kind: "none", name: "", role: "viewer", mustChangePassword: false };

interface Compiled {
  readonly route: Route;
  readonly segments: readonly string[];
}

/** The query string as an object: a repeated key becomes an array (EMQX's `clientid=a&clientid=b`). */
function queryObject(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/** "field: what is wrong" for the first issue (EMQX names the field too). */
export function issueText(err: z.ZodError, where: string): string {
  const i = err.issues[0];
  if (!i) return `${where}: invalid`;
  const field = i.path.length ? i.path.join(".") : where;
  return `${field}: ${i.message}`;
}

/** See the file header. */
export class Router {
  readonly routes: readonly Route[];
  readonly #compiled: Compiled[];
  readonly #auth: ApiAuth;
  readonly #log: Logger;
  readonly #maxBody: number;

  constructor(routes: readonly Route[], opts: { auth: ApiAuth; log: Logger; maxBody: number }) {
    this.routes = routes;
    this.#compiled = routes.map((r) => ({ route: r, segments: r.path.split("/").slice(1) }));
    this.#auth = opts.auth;
    this.#log = opts.log;
    this.#maxBody = opts.maxBody;
  }

  /** Answers a request whose path is `path` (under /api/v5). */
  async handle(request: Request, path: string, remote = ""): Promise<Response> {
    try {
      return await this.#dispatch(request, path, remote);
    } catch (err) {
      if (err instanceof ApiError) return errorResponse(err);
      this.#log.error("API {method} {path} failed: {error}", {
        method: request.method,
        path,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
      return errorResponse(
        err instanceof ShardRpcError
          ? new ApiError(
            503,
            "SERVICE_UNAVAILABLE",
            // The shard's own reason (a full store, ...) tells the operator more than "busy".
            err.answered
              ? `The broker refused: ${err.reason}`
              : "The broker did not answer in time",
          )
          : new ApiError(500, "INTERNAL_ERROR", "Internal error (logged)"),
      );
    }
  }

  async #dispatch(request: Request, path: string, remote: string): Promise<Response> {
    const parts = path.split("/").slice(1);
    let methodMismatch = false;
    for (const c of this.#compiled) {
      const params = matchPath(c.segments, parts);
      if (!params) continue;
      if (c.route.method !== request.method) {
        methodMismatch = true;
        continue;
      }
      return await this.#run(c.route, request, params, remote);
    }
    if (methodMismatch) throw new ApiError(405, "METHOD_NOT_ALLOWED", "Method not allowed");
    throw new ApiError(404, "NOT_FOUND", `No such API path: ${path}`);
  }

  async #run(
    r: Route,
    request: Request,
    params: Record<string, string>,
    remote: string,
  ): Promise<Response> {
    const access = r.access ?? "any";
    const who = access === "public" ? NOBODY : await this.#auth.authenticate(request);
    if (access === "token" && who.kind === "api_key") {
      throw new ApiError(401, "API_KEY_NOT_ALLOW", "API key is not allowed on this path");
    }
    if (who.mustChangePassword && !r.duringPasswordChange) {
      throw new ApiError(
        403,
        "PASSWORD_CHANGE_REQUIRED",
        `The default password must be changed first: POST /api/v5/users/${who.name}/change_pwd`,
      );
    }
    if (
      who.kind !== "none" && who.role === "viewer" && r.method !== "GET" &&
      !r.duringPasswordChange
    ) {
      throw new ApiError(403, "UNAUTHORIZED_ROLE", "Unauthorized Role");
    }
    let query: unknown = undefined;
    if (r.query) {
      const q = r.query.safeParse(queryObject(new URL(request.url)));
      if (!q.success) throw new ApiError(400, "BAD_REQUEST", issueText(q.error, "query"));
      query = q.data;
    }
    let body: unknown = undefined;
    if (r.body) {
      const text = await readBody(request, this.#maxBody);
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch (err) {
        throw new ApiError(400, "BAD_REQUEST", `body: not JSON (${(err as Error).message})`);
      }
      const b = r.body.safeParse(parsed);
      if (!b.success) throw new ApiError(400, "BAD_REQUEST", issueText(b.error, "body"));
      body = b.data;
    }
    return await r.handle({ request, params, query, body, who, remote });
  }
}

/** Path parameters when `parts` match `segments`, else null. */
function matchPath(
  segments: readonly string[],
  parts: readonly string[],
): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const p = parts[i];
    if (p === undefined) return null;
    if (s.startsWith("{") && s.endsWith("*}")) {
      params[s.slice(1, -2)] = parts.slice(i).map(decode).join("/");
      return params;
    }
    if (s.startsWith("{") && s.endsWith("}")) {
      if (p === "") return null;
      params[s.slice(1, -1)] = decode(p);
    } else if (s !== p) return null;
  }
  return parts.length === segments.length ? params : null;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, "BAD_REQUEST", `path: bad percent-encoding in "${s}"`);
  }
}
