/**
 * Config types of the HTTP API and dashboard (`dashboard.*`, `api_key.*`, EMQX's keys), re-exported
 * from types.ts. Owned by src/config/ with _schema_dashboard.ts, which builds them; nothing else
 * constructs them.
 */

import type { SslOptionsConfig } from "./types_listeners.ts";

/** `dashboard.listeners.http` / `.https`. */
export interface DashboardListenerConfig {
  readonly enable: boolean;
  /** "host:port"; port 0 asks the OS for a free port (tests). */
  readonly bind: string;
  readonly host: string;
  readonly port: number;
  /** https only (null for http). */
  readonly sslOptions: SslOptionsConfig | null;
}

export interface DashboardConfig {
  readonly listeners: {
    readonly http: DashboardListenerConfig;
    readonly https: DashboardListenerConfig;
  };
  /** Seeds the admin user table on first start only. */
  readonly defaultUsername: string;
  readonly defaultPassword: string;
  /** Life of a login token, ms. */
  readonly tokenExpiredTime: number;
  /** Serve /api-docs/swagger.json. */
  readonly swaggerSupport: boolean;
  /** Failed logins of one user name within `unsuccessfulLoginInterval` before it is locked. */
  readonly unsuccessfulLoginMaxAttempts: number;
  readonly unsuccessfulLoginInterval: number;
  /** How long a locked user name stays locked, ms. */
  readonly unsuccessfulLoginLockDuration: number;
  /** Live login tokens kept in the whole node (the oldest is dropped beyond). */
  readonly maxTokens: number;
  /** Largest request body accepted, bytes (413 beyond). */
  readonly maxBodySize: number;
}

export interface ApiKeyConfig {
  /** Lines `api_key:api_secret[:role]` loaded at start; "" = none. */
  readonly bootstrapFile: string;
  /** API keys kept (EMQX: 100). */
  readonly maxKeys: number;
}
