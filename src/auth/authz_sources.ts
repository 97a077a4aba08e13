/**
 * createSource(): the one switch from an authorization source config to its AuthzSource.
 * Owned by src/auth/. In-memory sources (file, built_in_database) are built at once; networked
 * ones are loaded on first use (their drivers are imported then), so a broker without them never
 * loads ioredis, postgres, mysql2, mongodb or ldapts.
 */

import { log } from "./_backend.ts";
import { AclStore, BuiltinSource, FileSource } from "./authz/file.ts";
import { AuthMetrics } from "./metrics.ts";
import type { AuthzAction, AuthzClient, AuthzSource, MaybePromise, SourceAnswer } from "./types.ts";
import type { AuthDeps } from "./deps.ts";
import type { AuthzSourceConfig } from "../config/types_auth.ts";

/** Builds one source. Throws (SyntaxError with the line) when a file source is invalid. */
/** The built-in source's `max_rules` among `sources` (EMQX's default, 100, without that source). */
export function builtinMaxRules(sources: readonly AuthzSourceConfig[]): number {
  const source = sources.find((s) => s.type === "built_in_database");
  return source?.type === "built_in_database" ? source.maxRules : 100;
}

export function createSource(cfg: AuthzSourceConfig, deps: AuthDeps): AuthzSource {
  switch (cfg.type) {
    case "file":
      return new FileSource(cfg.path, cfg.rules);
    case "built_in_database":
      return new BuiltinSource(deps.aclStore ?? new AclStore(cfg.maxRules));
    default:
      return new LazySource(cfg, deps.metrics ?? new AuthMetrics(), deps.shards);
  }
}

/** A networked source whose module loads on the first request. */
class LazySource implements AuthzSource {
  readonly type: string;
  #source: AuthzSource | null = null;
  #loading: Promise<AuthzSource | null> | null = null;
  readonly #load: () => Promise<AuthzSource>;

  constructor(
    cfg: Exclude<AuthzSourceConfig, { type: "file" | "built_in_database" }>,
    metrics: AuthMetrics,
    shards?: number,
  ) {
    this.type = cfg.type;
    this.#load = async () => {
      const { createBackendSource } = await import("./authz/backends.ts");
      return createBackendSource(cfg, metrics, shards);
    };
  }

  authorize(client: AuthzClient, action: AuthzAction): MaybePromise<SourceAnswer> {
    if (this.#source) return this.#source.authorize(client, action);
    this.#loading ??= this.#load().then((s) => (this.#source = s), (e) => {
      log.error(`authorization source ${this.type} could not load: ${(e as Error).message}`);
      this.#loading = null;
      return null;
    });
    return this.#loading.then((s) => (s ? s.authorize(client, action) : "nomatch"));
  }

  async close(): Promise<void> {
    const s = this.#source ?? (this.#loading ? await this.#loading : null);
    await s?.close();
  }
}
