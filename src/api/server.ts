/**
 * The HTTP API and dashboard server (EMQX's port 18083): `dashboard.listeners.http` and
 * `.https` on Deno.serve, each logging `Listener http:dashboard listening on <host>:<port>`
 * (tests and operators read the port there). `/api/v5/...` goes to the Router, `/status` too
 * (no auth, as EMQX), `/api-docs/swagger.json` to the OpenAPI document; other paths are the
 * dashboard's. Runs in the supervisor isolate and reaches broker state only through
 * BrokerControl (request/reply to the shards), so a slow request never blocks a shard. Owns the
 * HTTP listeners and the ApiAuth.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Config, DashboardListenerConfig } from "../config/types.ts";
import type { BrokerControl } from "../supervisor/broker_control.ts";
import { type AdminStore, FileAdminStore } from "./admin_store.ts";
import { ApiAuth } from "./auth.ts";
import { errorResponse, json } from "./_http.ts";
import { ApiError } from "./_http.ts";
import {
  allRoutes,
  type ClusterView,
  type ConfigChange,
  type ListenerActionFn,
  type ListenerInfo,
} from "./routes.ts";
import { openApiDocument } from "./openapi.ts";
import { Router } from "./router.ts";

const log = getLogger(["culex", "api"]);
const API_PREFIX = "/api/v5";

/** What the API server is given by the supervisor. */
export interface ApiDeps {
  readonly config: Config;
  readonly control: BrokerControl;
  /** The MQTT listeners and their live connection counts (GET /listeners). */
  listeners(): ListenerInfo[];
  /** POST /listeners/{id}/start|stop|restart (absent: 501). */
  readonly listenerAction?: ListenerActionFn;
  /** Where admins live; default: a file under node.data_dir. */
  readonly admins?: AdminStore;
  /**
   * `PUT /configs`: loads the node's configuration with these `key=value` sets laid over it and
   * applies what can change at run time (src/supervisor/reload.ts). Absent: PUT /configs is 501.
   */
  readonly applyConfig?: (sets: readonly string[]) => Promise<ConfigChange>;
  /** The configuration in effect (GET /configs); default: the one given at start. */
  readonly currentConfig?: () => Config;
  /** The cluster, when the node is clustered (GET /cluster, /nodes, /clients, /stats). */
  readonly cluster?: ClusterView | null;
  /** Non-API paths (the dashboard's pages); null = not one of its paths. */
  readonly dashboard?: (request: Request) => Promise<Response | null>;
  /** Seed the default admin at the first use of the admins (ApiAuth's seedLazily). */
  readonly seedLazily?: boolean;
}

/** A running API server. */
export interface ApiServer {
  /** "http:dashboard" / "https:dashboard" → where it listens. */
  readonly addresses: ReadonlyMap<string, { host: string; port: number }>;
  readonly auth: ApiAuth;
  stop(): Promise<void>;
}

/** Path of the admin file under node.data_dir (until the durable store keeps admins). */
export function adminFilePath(config: Config): string {
  return `${config.node.dataDir}/dashboard_admins.json`;
}

/** A handler for the bound listeners; swapped in once the API is ready. */
type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;

/**
 * The dashboard listeners bound early (before the MQTT listeners open and before the cluster
 * starts): a port that is taken or a certificate that cannot be read stops the node before it
 * listens or joins anyone. Requests that arrive before startApi() wait for it; if the start fails
 * instead they get 503 and the listeners close.
 */
export interface BoundApi {
  /** Closes the listeners (a start that failed before startApi()). */
  stop(): Promise<void>;
}

/** The internals of a BoundApi, for startApi(). */
interface BoundApiState extends BoundApi {
  readonly servers: readonly (readonly ["http" | "https", Deno.HttpServer])[];
  /** Starts answering with `handler`. */
  ready(handler: Handler): void;
}

/**
 * Binds the enabled dashboard listeners (`dashboard.listeners.http`, `.https`) without serving the
 * API yet. Throws, naming the key, when a port cannot be bound or a certificate file cannot be
 * read; nothing stays bound then.
 */
export function bindApi(config: Config): BoundApi {
  let resolve: (h: Handler) => void = () => {};
  const handlerReady = new Promise<Handler>((r) => resolve = r);
  const deferred: Handler = async (request, info) => (await handlerReady)(request, info);
  const servers: (readonly ["http" | "https", Deno.HttpServer])[] = [];
  const listeners = config.dashboard.listeners;
  const stop = async () => {
    resolve(() => Promise.resolve(new Response("starting failed", { status: 503 })));
    await Promise.all(servers.map(([, s]) => s.shutdown()));
  };
  try {
    for (const [name, l] of [["http", listeners.http], ["https", listeners.https]] as const) {
      if (l.enable) servers.push([name, serve(name, l, deferred)]);
    }
  } catch (err) {
    // Fire and forget: the servers bound so far close; the caller reports the error.
    stop().catch(() => {});
    throw err;
  }
  const state: BoundApiState = { servers, ready: (h) => resolve(h), stop };
  return state;
}

/**
 * Starts the enabled dashboard listeners, or serves on the ones `bound` bound earlier. Throws
 * (naming the key) when a port cannot be bound or a certificate file cannot be read.
 */
export async function startApi(deps: ApiDeps, bound?: BoundApi): Promise<ApiServer> {
  const { config } = deps;
  const early = (bound ?? bindApi(config)) as BoundApiState;
  let auth: ApiAuth;
  try {
    const admins = deps.admins ?? await FileAdminStore.open(adminFilePath(config));
    auth = new ApiAuth(admins, {
      dashboard: config.dashboard,
      apiKey: config.apiKey,
      keysFile: `${config.node.dataDir}/api_keys.json`,
      ...(deps.seedLazily ? { seedLazily: true } : {}),
    });
    await auth.init();
  } catch (err) {
    await early.stop();
    throw err;
  }
  let running = true;
  const routes = allRoutes({ ...deps, auth, running: () => running, startedAt: Date.now() });
  const router = new Router(routes, { auth, log, maxBody: config.dashboard.maxBodySize });
  const swagger = config.dashboard.swaggerSupport ? openApiDocument(routes) : null;

  const handler = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const remote = (info.remoteAddr as Deno.NetAddr).hostname ?? "";
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) {
      return await router.handle(request, path.slice(API_PREFIX.length) || "/", remote);
    }
    if (path === "/status") return await router.handle(request, "/status", remote);
    if (path === "/api-docs/swagger.json" && swagger) return json(swagger);
    const page = deps.dashboard ? await deps.dashboard(request) : null;
    return page ?? errorResponse(new ApiError(404, "NOT_FOUND", `Not found: ${path}`));
  };

  early.ready(handler);
  const addresses = new Map<string, { host: string; port: number }>();
  for (const [name, server] of early.servers) {
    const addr = server.addr as Deno.NetAddr;
    addresses.set(`${name}:dashboard`, { host: addr.hostname, port: addr.port });
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    // Exact text, as the MQTT listeners': tests read the real port from this line. Logged once
    // the API answers (the port was bound before the MQTT listeners: bindApi).
    log.info(`Listener ${name}:dashboard listening on ${host}:${addr.port}`);
  }
  return {
    addresses,
    auth,
    async stop() {
      running = false;
      await early.stop();
    },
  };
}

function serve(
  name: "http" | "https",
  l: DashboardListenerConfig,
  handler: Handler,
): Deno.HttpServer {
  const key = `dashboard.listeners.${name}`;
  const base = { hostname: l.host, port: l.port, onListen: () => {} };
  let files: { cert: string; key: string } | null = null;
  if (name === "https" && l.sslOptions) {
    const tls = l.sslOptions;
    files = {
      cert: readFile(`${key}.ssl_options.certfile`, tls.certfile),
      key: readFile(`${key}.ssl_options.keyfile`, tls.keyfile),
    };
  }
  try {
    return Deno.serve(files ? { ...base, ...files } : base, handler);
  } catch (err) {
    throw new Error(`${key}.bind: cannot listen on ${l.bind}: ${(err as Error).message}`);
  }
}

function readFile(key: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(`${key}: cannot read ${path}: ${(err as Error).message}`);
  }
}
