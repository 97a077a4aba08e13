/**
 * The dashboard's client of Culex's HTTP API (EMQX's /api/v5 paths and bodies). Owns the login
 * session (token and user name in sessionStorage, so a reload keeps it and closing the tab drops
 * it) and turns error bodies `{code, message}` into ApiError. A 401 ends the session; a 403 while
 * the default password is still set sends the user to the change form (the server allows such a
 * token nothing else).
 *
 * @module
 */

const TOKEN_KEY = "culex.token";
const USER_KEY = "culex.username";
const MUST_CHANGE_KEY = "culex.mustChangePassword";
/** The 403 code of Culex's API while the default password is still set. */
const PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED";

/** An API answer other than 2xx: HTTP status plus EMQX's `code` and `message`. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The logged-in user, or null. */
export function currentUser(): string | null {
  return sessionStorage.getItem(TOKEN_KEY) ? sessionStorage.getItem(USER_KEY) : null;
}

/** Whether the user still has to replace the default password. */
export function mustChangePassword(): boolean {
  return sessionStorage.getItem(MUST_CHANGE_KEY) === "1";
}

function endSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  sessionStorage.removeItem(MUST_CHANGE_KEY);
}

/** Query parameters; undefined and empty values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `/api/v5${path}${qs ? `?${qs}` : ""}`;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; reason_code?: unknown };
    const code = String(body.code ?? body.reason_code ?? res.status);
    return new ApiError(res.status, code, String(body.message ?? text));
  } catch {
    return new ApiError(res.status, String(res.status), text || res.statusText);
  }
}

/** Sends a request with the session's token; resolves with the parsed body (null when empty). */
export async function call<T>(
  method: string,
  path: string,
  opts: { query?: Query; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url(path, opts.query), {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  if (res.status === 401 && token) {
    endSession();
    location.hash = "#/login";
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 403 && (error.code === PASSWORD_CHANGE_REQUIRED || mustChangePassword())) {
      requirePasswordChange();
      location.hash = "#/change-password";
    }
    throw error;
  }
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

/** Like call(), but also returns the HTTP status (POST /publish answers 200 or 202). */
export async function callWithStatus<T>(
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: T }> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? "";
  const res = await fetch(url(path), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* a plain-text body is shown as it is */ }
  return { status: res.status, body: parsed as T };
}

/** EMQX's default dashboard credentials, which the user is made to change (EMQX-NAMES §7). */
function isDefaultPassword(username: string, password: string): boolean {
  return password === "public" && ["admin", "root", "administrator"].includes(username);
}

/** POST /login; starts the session. Rejects with ApiError (401 BAD_USERNAME_OR_PWD). */
export async function login(username: string, password: string): Promise<void> {
  endSession();
  const body = await call<{ token: string; password_change_required?: boolean }>(
    "POST",
    "/login",
    { body: { username, password } },
  );
  sessionStorage.setItem(TOKEN_KEY, body.token);
  sessionStorage.setItem(USER_KEY, username);
  // Culex's API says so (password_change_required); EMQX's page decides from the password alone.
  if (body.password_change_required === true || isDefaultPassword(username, password)) {
    sessionStorage.setItem(MUST_CHANGE_KEY, "1");
  }
}

/** Marks the session as one that must change its password (the server said so with a 403). */
export function requirePasswordChange(): void {
  sessionStorage.setItem(MUST_CHANGE_KEY, "1");
}

/** POST /users/{username}/change_pwd, then logs in again with the new password (as EMQX). */
export async function changePassword(oldPwd: string, newPwd: string): Promise<void> {
  const username = sessionStorage.getItem(USER_KEY) ?? "";
  await call("POST", `/users/${encodeURIComponent(username)}/change_pwd`, {
    body: { old_pwd: oldPwd, new_pwd: newPwd },
  });
  await login(username, newPwd);
  sessionStorage.removeItem(MUST_CHANGE_KEY);
}

/** POST /logout and forgets the token, whatever the server answers. */
export async function logout(): Promise<void> {
  const username = sessionStorage.getItem(USER_KEY) ?? "";
  await call("POST", "/logout", { body: { username } }).catch(() => {});
  endSession();
}

/** A page of a paged list (EMQX's `{data, meta}`). */
export interface Page<T> {
  data: T[];
  meta: { page?: number; limit?: number; count?: number; hasnext?: boolean };
}

/** Percent-encodes one path segment (client ids and topics may hold '/', '#', '+'). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
