/**
 * ApiAuth: who is calling the API. Dashboard admins log in (`POST /login`) and get a bearer
 * token with an expiry; scripts use API keys with HTTP Basic `api_key:api_secret`. Passwords and
 * secrets are kept hashed and compared in constant time; failed logins lock a user name for a
 * while (EMQX's `unsuccessful_login_*`). The seeded default admin with the well-known password
 * `public` is marked: until its password is changed, its tokens may only change it (API keys
 * are unaffected). Owns the token table, the API keys and the login limiter; admins live in an
 * AdminStore.
 *
 * @module
 */

import type { ApiKeyConfig, DashboardConfig } from "../config/types.ts";
import type { AdminStore, AdminUser } from "./admin_store.ts";
import { ApiError } from "./_http.ts";
import { digest, hashSecret, randomText, sameText, verifySecret } from "./_password.ts";
import { ApiKeys } from "./api_keys.ts";
import { AdminGate } from "./_admin_gate.ts";

/** The password EMQX ships, which must not survive the first login. */
export const WELL_KNOWN_PASSWORD = "public";

/** Who made a request. */
export interface Principal {
  readonly kind: "token" | "api_key" | "none";
  /** Admin user name or API key name. */
  readonly name: string;
  readonly role: "administrator" | "viewer";
  /** A token of an admin that still has the default password. */
  readonly mustChangePassword: boolean;
  /** The bearer token itself (for logout). */
  readonly token?: string;
}

interface TokenEntry {
  readonly digest: string;
  readonly username: string;
  readonly expiresAt: number;
}

interface Failures {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

const REALM = { "www-authenticate": 'Basic Realm="emqx-dashboard"' };

function unauthorized(code: string, message: string): ApiError {
  return new ApiError(401, code, message, REALM);
}

/** See the file header. */
export class ApiAuth {
  readonly admins: AdminStore;
  readonly keys: ApiKeys;
  readonly #gate: AdminGate;
  readonly #seedLazily: boolean;
  readonly #cfg: DashboardConfig;
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #failures = new Map<string, Failures>();

  constructor(
    admins: AdminStore,
    opts: {
      dashboard: DashboardConfig;
      apiKey: ApiKeyConfig;
      now?: () => number;
      /** Where API keys made through the API are saved (null = memory only). */
      keysFile?: string | null;
      /**
       * Seed the default admin at the first use of the admins instead of in init():
       * _admin_gate.ts says why. Default false: in init().
       */
      seedLazily?: boolean;
    },
  ) {
    this.#gate = new AdminGate(admins);
    this.admins = this.#gate;
    this.#seedLazily = opts.seedLazily ?? false;
    this.#cfg = opts.dashboard;
    this.#now = opts.now ?? Date.now;
    this.keys = new ApiKeys(opts.apiKey, this.#now, opts.keysFile ?? null);
  }

  /** Seeds the default admin when there is none; loads the API key bootstrap file. */
  async init(): Promise<void> {
    if ((await this.admins.list()).length === 0) {
      const password = this.#cfg.defaultPassword;
      const username = this.#cfg.defaultUsername;
      const seed = async (admins: AdminStore) =>
        admins.seed({
          username,
          passwordHash: await hashSecret(password),
          role: "administrator",
          description: "administrator",
          mustChangePassword: password === WELL_KNOWN_PASSWORD,
        });
      if (this.#seedLazily) this.#gate.later(seed);
      else await seed(this.admins);
    }
    await this.keys.load();
    await this.keys.bootstrap();
  }

  /** POST /login: a token, or 401 BAD_USERNAME_OR_PWD (also while the user name is locked). */
  async login(username: string, password: string): Promise<{ token: string; user: AdminUser }> {
    const now = this.#now();
    const f = this.#failures.get(username);
    if (f && f.lockedUntil > now) {
      const wait = Math.ceil((f.lockedUntil - now) / 1000);
      throw new ApiError(401, "BAD_USERNAME_OR_PWD", `Login locked, retry in ${wait} s`, {
        "retry-after": String(wait),
      });
    }
    const user = await this.admins.get(username);
    // An unknown user costs one hash too, so timing does not tell which user names exist.
    const ok = await verifySecret(password, user?.passwordHash ?? null);
    if (!ok || !user) {
      this.#fail(username, now);
      throw new ApiError(401, "BAD_USERNAME_OR_PWD", "Auth failed");
    }
    this.#failures.delete(username);
    return { token: await this.#issue(username, now), user };
  }

  /** POST /logout: forgets the token. */
  logout(token: string): void {
    const id = token.split(".")[0] ?? "";
    this.#tokens.delete(id);
  }

  /** After a password change: every token of `username` stops working (EMQX does the same). */
  forgetTokensOf(username: string): void {
    for (const [id, t] of this.#tokens) if (t.username === username) this.#tokens.delete(id);
  }

  /** Changes a password after checking the old one; the new one must pass weakPassword(). */
  async setPassword(user: AdminUser, password: string): Promise<void> {
    await this.admins.put({
      ...user,
      passwordHash: await hashSecret(password),
      mustChangePassword: false,
    });
    this.forgetTokensOf(user.username);
    // A new password lifts a login lock on the name (EMQX resets it too).
    this.#failures.delete(user.username);
  }

  /** Who sent `request`: a bearer token or an API key; throws 401 otherwise. */
  async authenticate(request: Request): Promise<Principal> {
    const header = request.headers.get("authorization") ?? "";
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space < 0 || value === "" || (scheme !== "bearer" && scheme !== "basic")) {
      throw unauthorized("AUTHORIZATION_HEADER_ERROR", "Support authorization: basic/bearer ");
    }
    if (scheme === "basic") {
      let decoded: string;
      try {
        decoded = atob(value);
      } catch {
        throw unauthorized("AUTHORIZATION_HEADER_ERROR", "Basic credentials are not base64");
      }
      const colon = decoded.indexOf(":");
      const key = await this.keys.check(decoded.slice(0, colon), decoded.slice(colon + 1));
      if (colon < 0 || !key) {
        throw unauthorized("BAD_API_KEY_OR_SECRET", "Check api_key/api_secret");
      }
      return { kind: "api_key", name: key.name, role: key.role, mustChangePassword: false };
    }
    return await this.#checkToken(value);
  }

  async #checkToken(token: string): Promise<Principal> {
    const [id = "", secret = ""] = token.split(".");
    const entry = this.#tokens.get(id);
    const d = await digest(secret);
    if (!entry || !sameText(d, entry.digest)) {
      throw unauthorized("BAD_TOKEN", "Get a token by login");
    }
    if (entry.expiresAt <= this.#now()) {
      this.#tokens.delete(id);
      throw unauthorized("TOKEN_TIME_OUT", "Token expired, get new token by POST /login");
    }
    const user = await this.admins.get(entry.username);
    if (!user) throw unauthorized("BAD_TOKEN", "Get a token by login");
    return {
      kind: "token",
      name: user.username,
      role: user.role,
      mustChangePassword: user.mustChangePassword,
      token,
    };
  }

  async #issue(username: string, now: number): Promise<string> {
    // Expired tokens go first, then the oldest while over the bound.
    for (const [id, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(id);
    while (this.#tokens.size >= this.#cfg.maxTokens) {
      const oldest = this.#tokens.keys().next().value;
      if (oldest === undefined) break;
      this.#tokens.delete(oldest);
    }
    const id = randomText(12);
    const secret = randomText(32);
    this.#tokens.set(id, {
      digest: await digest(secret),
      username,
      expiresAt: now + this.#cfg.tokenExpiredTime,
    });
    return `${id}.${secret}`;
  }

  #fail(username: string, now: number): void {
    let f = this.#failures.get(username);
    if (!f || now - f.firstAt > this.#cfg.unsuccessfulLoginInterval) {
      f = { count: 0, firstAt: now, lockedUntil: 0 };
      // Bounded: user names are chosen by whoever calls; the oldest record goes.
      if (this.#failures.size >= 10_000) {
        const oldest = this.#failures.keys().next().value;
        if (oldest !== undefined) this.#failures.delete(oldest);
      }
      this.#failures.set(username, f);
    }
    f.count++;
    if (f.count >= this.#cfg.unsuccessfulLoginMaxAttempts) {
      f.lockedUntil = now + this.#cfg.unsuccessfulLoginLockDuration;
      f.count = 0;
      f.firstAt = now;
    }
  }
}
