/**
 * Test helper: the broker's HTTP API (issue 14) over real HTTP. Starts a broker with its own
 * temp `node.data_dir` (admins are saved there) and the API on a free port, read from the
 * `Listener http:dashboard listening on host:port` start-up line; sends requests with a bearer
 * token, an API key (Basic) or nothing; logs in as the default admin and changes the default
 * password (the server forces it). Knows nothing of the broker's internals.
 */

import { type BrokerHandle, startBroker, type StartBrokerOptions } from "./broker.ts";
import { assertEquals } from "./assert.ts";

/** One answer. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (null when empty or not JSON). */
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/** Credentials for one request. */
export type Credential =
  | { readonly token: string }
  | { readonly key: string; readonly secret: string }
  | null;

/** Request options. */
export interface RequestOptions {
  readonly body?: unknown;
  /** A raw body (sent as is). */
  readonly raw?: string;
  readonly as?: Credential;
  readonly headers?: Record<string, string>;
}

/** The API of one broker. */
export class Api {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The credential used when a request gives none (set by asAdmin()). */
  defaultAs: Credential = null;

  constructor(readonly port: number) {
    this.origin = `http://127.0.0.1:${port}`;
  }

  /** Sends `method path` (path under /api/v5 unless it starts with "//", then from the root). */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiAnswer> {
    const url = path.startsWith("//")
      ? `${this.origin}${path.slice(1)}`
      : `${this.origin}/api/v5${path}`;
    const headers: Record<string, string> = { ...opts.headers };
    const as = opts.as === undefined ? this.defaultAs : opts.as;
    if (as && "token" in as) headers.authorization = `Bearer ${as.token}`;
    if (as && "key" in as) headers.authorization = `Basic ${btoa(`${as.key}:${as.secret}`)}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
    const r = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await r.text();
    let json: unknown = null;
    try {
      json = text === "" ? null : JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, text, json };
  }

  get(path: string, opts?: RequestOptions): Promise<ApiAnswer> {
    return this.request("GET", path, opts);
  }

  post(path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiAnswer> {
    return this.request("POST", path, { ...opts, ...(body === undefined ? {} : { body }) });
  }

  put(path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiAnswer> {
    return this.request("PUT", path, { ...opts, ...(body === undefined ? {} : { body }) });
  }

  delete(path: string, opts?: RequestOptions): Promise<ApiAnswer> {
    return this.request("DELETE", path, opts);
  }

  /** POST /login; the token (asserts 200). */
  async login(username: string, password: string): Promise<string> {
    const r = await this.post("/login", { username, password }, { as: null });
    assertEquals(r.status, 200, `login ${username}: ${r.text}`);
    return r.json.token as string;
  }

  /**
   * Logs in as admin/public, changes the password to `password` (forced by the server), logs in
   * again and makes that token the default credential. Returns the token.
   */
  async asAdmin(password = "Culex-test-1"): Promise<string> {
    const first = await this.login("admin", "public");
    const r = await this.post("/users/admin/change_pwd", { old_pwd: "public", new_pwd: password }, {
      as: { token: first },
    });
    assertEquals(r.status, 204, `change_pwd: ${r.text}`);
    const token = await this.login("admin", password);
    this.defaultAs = { token };
    return token;
  }
}

/** A broker with its API. */
export interface ApiBroker {
  readonly broker: BrokerHandle;
  readonly api: Api;
  readonly dataDir: string;
}

/**
 * Starts a broker (temp data_dir, API on a free port), runs body, stops it and removes the
 * directory; asserts a clean exit (0) when body succeeded.
 */
export async function withApiBroker(
  opts: StartBrokerOptions,
  body: (b: ApiBroker) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test_api_" });
  const broker = await startBroker({
    ...opts,
    sets: [`node.data_dir=${dataDir}`, ...(opts.sets ?? [])],
    listeners: ["http:dashboard", ...(opts.listeners ?? [])],
  });
  let ok = false;
  let code = -1;
  try {
    await body({ broker, api: new Api(broker.portOf("http:dashboard")), dataDir });
    ok = true;
  } finally {
    code = await broker.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  if (ok) assertEquals(code, 0, `broker exit code after SIGTERM; logs:\n${broker.logs()}`);
}
