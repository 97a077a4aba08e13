/**
 * Connections to the backends of authentication and authorization: Redis (ioredis), PostgreSQL
 * (postgres), MySQL/MariaDB (mysql2), MongoDB (mongodb) and HTTP (fetch). Private to src/auth/.
 * Each connector owns one shard's pool (ceil(pool_size / shards) connections), reconnects with
 * backoff through its driver, and takes values only as parameters (SQL parameters, Redis
 * arguments, Mongo values): no text from a client is ever spliced into a command. LDAP lives in
 * _ldap.ts. Drivers are imported when a connector is first made, so a broker without that
 * backend never loads it.
 */

import type { Redis } from "ioredis";
import type { Sql } from "postgres";
import type { Pool as MysqlPool } from "mysql2/promise";
import type { MongoClient } from "mongodb";
import { poolPerShard } from "./_backend.ts";
import type {
  HttpConnConfig,
  MongoConnConfig,
  RedisConnConfig,
  SqlConnConfig,
} from "../config/types_auth.ts";

/** Splits "host:port" / "[v6]:port" / "host" with a default port. */
export function hostPort(server: string, defaultPort: number): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server.trim());
  if (!m) return { host: server, port: defaultPort };
  return { host: m[1] ?? m[2] ?? server, port: m[3] ? Number(m[3]) : defaultPort };
}

/** Longest pause between reconnect attempts. */
const MAX_BACKOFF_MS = 5_000;

/** Round-robin over `poolPerShard` ioredis clients. */
export class RedisConnector {
  readonly #clients: Promise<Redis[]>;
  #next = 0;

  constructor(cfg: RedisConnConfig, shards?: number) {
    const { host, port } = hostPort(cfg.server, 6379);
    const n = poolPerShard(cfg.poolSize, shards);
    this.#clients = import("ioredis").then(({ Redis }) =>
      Array.from({ length: n }, () =>
        new Redis({
          host,
          port,
          db: cfg.database,
          ...(cfg.username ? { username: cfg.username } : {}),
          ...(cfg.password ? { password: cfg.password } : {}),
          // Fail fast while disconnected instead of queueing without bound; the caller's
          // deadline turns the failure into ignore.
          maxRetriesPerRequest: 0,
          enableOfflineQueue: true,
          commandTimeout: cfg.queryTimeout,
          connectTimeout: cfg.queryTimeout,
          retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 6), MAX_BACKOFF_MS),
          lazyConnect: false,
        }).on("error", () => {/* reported per request by the caller's deadline */}))
    );
  }

  /** Runs one command; every element of `args` is one argument (never parsed). */
  async command(args: readonly string[]): Promise<unknown> {
    const clients = await this.#clients;
    const c = clients[this.#next++ % clients.length] as Redis;
    const [cmd, ...rest] = args;
    return await c.call(cmd as string, ...rest);
  }

  async close(): Promise<void> {
    const clients = await this.#clients;
    for (const c of clients) c.disconnect(false);
  }
}

/** A SQL pool: PostgreSQL ($1 markers) or MySQL (? markers, server-side prepared statements). */
export interface SqlConnector {
  readonly marker: (i: number) => string;
  query(sql: string, params: readonly (string | null)[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Builds the SQL connector of `kind`. */
export function sqlConnector(
  kind: "postgresql" | "mysql",
  cfg: SqlConnConfig,
  shards?: number,
): SqlConnector {
  return kind === "postgresql" ? new PgConnector(cfg, shards) : new MysqlConnector(cfg, shards);
}

class PgConnector implements SqlConnector {
  readonly marker = (i: number) => `$${i}`;
  readonly #sql: Promise<Sql>;

  constructor(cfg: SqlConnConfig, shards?: number) {
    const { host, port } = hostPort(cfg.server, 5432);
    this.#sql = import("postgres").then(({ default: postgres }) =>
      postgres({
        host,
        port,
        database: cfg.database,
        username: cfg.username,
        password: cfg.password,
        max: poolPerShard(cfg.poolSize, shards),
        connect_timeout: Math.max(1, Math.ceil(cfg.queryTimeout / 1000)),
        idle_timeout: 60,
        onnotice: () => {},
      })
    );
  }

  async query(sql: string, params: readonly (string | null)[]): Promise<Record<string, unknown>[]> {
    const db = await this.#sql;
    // unsafe() only means "not a tagged template": the values still travel as bind parameters.
    const rows = await db.unsafe(sql, params as (string | null)[]);
    return rows as unknown as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    await (await this.#sql).end({ timeout: 1 });
  }
}

class MysqlConnector implements SqlConnector {
  readonly marker = () => "?";
  readonly #pool: Promise<MysqlPool>;

  constructor(cfg: SqlConnConfig, shards?: number) {
    const { host, port } = hostPort(cfg.server, 3306);
    this.#pool = import("mysql2/promise").then(({ createPool }) =>
      createPool({
        host,
        port,
        user: cfg.username,
        password: cfg.password,
        database: cfg.database,
        connectionLimit: poolPerShard(cfg.poolSize, shards),
        connectTimeout: cfg.queryTimeout,
        // Bounded wait for a free connection; the caller's deadline ends it anyway.
        queueLimit: 10_000,
      })
    );
  }

  async query(sql: string, params: readonly (string | null)[]): Promise<Record<string, unknown>[]> {
    const pool = await this.#pool;
    // execute() = server-side prepared statement: values are bound, never escaped into text.
    const [rows] = await pool.execute(sql, params as (string | null)[]);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  }

  async close(): Promise<void> {
    await (await this.#pool).end().catch(() => {});
  }
}

/** A MongoDB client of one shard's pool. */
export class MongoConnector {
  readonly #client: Promise<MongoClient>;
  readonly #cfg: MongoConnConfig;

  constructor(cfg: MongoConnConfig, shards?: number) {
    this.#cfg = cfg;
    const { host, port } = hostPort(cfg.server, 27017);
    const auth = cfg.username
      ? `${encodeURIComponent(cfg.username)}:${encodeURIComponent(cfg.password)}@`
      : "";
    const url = `mongodb://${auth}${host.includes(":") ? `[${host}]` : host}:${port}/`;
    this.#client = import("mongodb").then(({ MongoClient }) =>
      new MongoClient(url, {
        maxPoolSize: poolPerShard(cfg.poolSize, shards),
        serverSelectionTimeoutMS: cfg.queryTimeout,
        connectTimeoutMS: cfg.queryTimeout,
        directConnection: true,
      })
    );
  }

  /** Documents of the configured collection matching `filter` (values bound as values). */
  async find(
    filter: Record<string, unknown>,
    limit: number,
    skip = 0,
  ): Promise<Record<string, unknown>[]> {
    const client = await this.#client;
    const coll = client.db(this.#cfg.database).collection(this.#cfg.collection);
    return await coll.find(filter, { limit, skip, maxTimeMS: this.#cfg.queryTimeout }).toArray();
  }

  async close(): Promise<void> {
    await (await this.#client).close().catch(() => {});
  }
}

/** An auth answer is small: a larger body is cut here (the rest is not read). */
const MAX_HTTP_BODY = 64 * 1024;

/** Reads at most `max` bytes of a response body as text, then cancels the rest. */
async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all.subarray(0, max));
}

/** HTTP requests with a per-shard connection pool. */
export class HttpConnector {
  readonly #client: Deno.HttpClient;

  constructor(cfg: HttpConnConfig, shards?: number) {
    this.#client = Deno.createHttpClient({
      poolMaxIdlePerHost: poolPerShard(cfg.poolSize, shards),
    });
  }

  async request(
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string },
    timeoutMs: number,
  ): Promise<{ status: number; contentType: string; body: string }> {
    const res = await fetch(url, {
      ...init,
      client: this.#client,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      body: await readBounded(res, MAX_HTTP_BODY),
    };
  }

  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }
}
