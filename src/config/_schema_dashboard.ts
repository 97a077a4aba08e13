/**
 * Schema of the HTTP API and dashboard keys (issue 14): `dashboard.*` and `api_key.*`, EMQX 5.8's
 * names (`emqx_dashboard_schema.erl`, `emqx_mgmt_api_key_schema.erl`) plus Culex's bounds
 * (`max_tokens`, `max_body_size`). Private to src/config/; schema.ts wires these in.
 */

import { z } from "zod";
import type { ApiKeyConfig, DashboardConfig, DashboardListenerConfig } from "./types_dashboard.ts";
import { bind, bool, duration, int, MAX_TIMER_MS, readableFile, size } from "./_fields.ts";
import { sslOptions } from "./_schema_listeners.ts";

const KB = 1024;
const MB = 1024 * KB;

const httpListener = z.strictObject({
  enable: bool().default(true),
  bind: bind().default({ bind: "0.0.0.0:18083", host: "0.0.0.0", port: 18083 }),
}).transform((l): DashboardListenerConfig => ({ ...l, ...l.bind, sslOptions: null }));

const httpsListener = z.strictObject({
  enable: bool().default(false),
  bind: bind().default({ bind: "0.0.0.0:18084", host: "0.0.0.0", port: 18084 }),
  ssl_options: sslOptions.optional(),
}).superRefine((l, ctx) => {
  if (l.enable && !l.ssl_options) {
    ctx.addIssue({
      code: "custom",
      message: "ssl_options with certfile and keyfile (https is enabled)",
      path: ["ssl_options"],
    });
  }
  // Deno.serve takes a PEM certificate and key only: refuse what it would silently ignore.
  if (l.ssl_options?.verify === "verify_peer") {
    ctx.addIssue({
      code: "custom",
      message: "verify_none: the HTTPS server cannot ask for client certificates",
      path: ["ssl_options", "verify"],
    });
  }
  if (l.ssl_options && l.ssl_options.password !== "") {
    ctx.addIssue({
      code: "custom",
      message: '"" (the HTTPS server cannot read an encrypted key file)',
      path: ["ssl_options", "password"],
    });
  }
}).transform((l): DashboardListenerConfig => ({
  enable: l.enable,
  ...l.bind,
  sslOptions: l.ssl_options ?? null,
}));

const name = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, {
  message: "a user name of 1-64 letters, digits or _.@-",
});

/** `dashboard.*`. */
export const dashboardSchema = z.strictObject({
  listeners: z.strictObject({
    http: httpListener.prefault({}),
    https: httpsListener.prefault({}),
  }).prefault({}),
  default_username: name.default("admin"),
  default_password: z.string().min(1, { message: "a password" }).max(64).default("public"),
  token_expired_time: duration(1000, MAX_TIMER_MS).default(3_600_000),
  swagger_support: bool().default(true),
  unsuccessful_login_max_attempts: int(1, 1000).default(5),
  unsuccessful_login_interval: duration(1000, MAX_TIMER_MS).default(300_000),
  unsuccessful_login_lock_duration: duration(1000, MAX_TIMER_MS).default(600_000),
  max_tokens: int(1, 1_000_000).default(10_000),
  max_body_size: size(KB, 512 * MB).default(4 * MB),
}).transform((d): DashboardConfig => ({
  listeners: d.listeners,
  defaultUsername: d.default_username,
  defaultPassword: d.default_password,
  tokenExpiredTime: d.token_expired_time,
  swaggerSupport: d.swagger_support,
  unsuccessfulLoginMaxAttempts: d.unsuccessful_login_max_attempts,
  unsuccessfulLoginInterval: d.unsuccessful_login_interval,
  unsuccessfulLoginLockDuration: d.unsuccessful_login_lock_duration,
  maxTokens: d.max_tokens,
  maxBodySize: d.max_body_size,
}));

/** `api_key.*`. */
export const apiKeySchema = z.strictObject({
  bootstrap_file: readableFile().default(""),
  max_keys: int(1, 100_000).default(100),
}).transform((a): ApiKeyConfig => ({ bootstrapFile: a.bootstrap_file, maxKeys: a.max_keys }));
