/**
 * password_based:postgresql and the postgresql authorization source against a real PostgreSQL
 * 15 (initdb'd here in a temp dir): the shared contract suites, then the server killed.
 */

import postgres from "postgres";
import { backendContracts } from "./_helpers/auth_contract.ts";
import { sqlBackends } from "./_helpers/sql_backends.ts";
import { startPostgres } from "./_helpers/servers/postgres.ts";

Deno.test({
  name: "postgresql: authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const srv = await startPostgres();
    const [host = "127.0.0.1", port] = srv.server.split(":");
    const sql = postgres({
      host,
      port: Number(port),
      database: srv.database,
      username: srv.username,
      password: srv.password,
      onnotice: () => {},
      max: 1,
    });
    try {
      const exec = async (q: string, params: unknown[] = []) =>
        [...(await sql.unsafe(q, params as never[]))] as Record<string, unknown>[];
      const { authn, authz } = await sqlBackends("postgresql", srv, exec);
      await backendContracts(t, authn, authz);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
      await srv.stop();
    }
  },
});
