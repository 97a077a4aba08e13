/**
 * password_based:mysql and the mysql authorization source against a real MariaDB (installed
 * here in a temp datadir): the shared contract suites, then the server killed.
 */

import { createConnection } from "mysql2/promise";
import { backendContracts } from "./_helpers/auth_contract.ts";
import { sqlBackends } from "./_helpers/sql_backends.ts";
import { startMariadb } from "./_helpers/servers/mariadb.ts";

Deno.test({
  name: "mysql (MariaDB): authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const srv = await startMariadb();
    const [host = "127.0.0.1", port] = srv.server.split(":");
    const db = await createConnection({
      host,
      port: Number(port),
      user: srv.username,
      password: srv.password,
      database: srv.database,
    });
    db.on("error", () => {});
    try {
      const exec = async (q: string, params: unknown[] = []) => {
        const [rows] = await db.execute(q, params as never[]);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      };
      const { authn, authz } = await sqlBackends("mysql", srv, exec);
      await backendContracts(t, authn, authz);
    } finally {
      db.destroy();
      await srv.stop();
    }
  },
});
