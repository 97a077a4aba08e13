/**
 * Adapters of the contract suites for the SQL backends (PostgreSQL, MariaDB/MySQL): EMQX's
 * mqtt_user and mqtt_acl tables, created through the driver as the test role. Owns no server.
 */

import assert from "node:assert/strict";
import type { AuthnBackend, AuthzBackend } from "./auth_contract.ts";
import { saltedSha256 } from "./auth_contract.ts";
import type { ServerProcess } from "./servers/_proc.ts";

/** Runs one statement with bound parameters ($1 for PostgreSQL, ? for MySQL). */
export type Exec = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export interface SqlServer {
  readonly server: string;
  readonly database: string;
  readonly username: string;
  readonly password: string;
  readonly process: ServerProcess;
}

export async function sqlBackends(
  kind: "postgresql" | "mysql",
  srv: SqlServer,
  exec: Exec,
): Promise<{ authn: AuthnBackend; authz: AuthzBackend }> {
  const p = (i: number) => (kind === "postgresql" ? `$${i}` : "?");
  await exec(
    "CREATE TABLE mqtt_user (username VARCHAR(200), password_hash VARCHAR(200), salt VARCHAR(40), is_superuser BOOLEAN)",
  );
  await exec(
    "CREATE TABLE mqtt_acl (username VARCHAR(200), permission VARCHAR(8), action VARCHAR(12), topic VARCHAR(200), qos VARCHAR(8), retain SMALLINT)",
  );
  const conn = {
    server: srv.server,
    database: srv.database,
    username: srv.username,
    password: srv.password,
    enable: true,
    poolSize: 4,
  };
  const authn: AuthnBackend = {
    id: `password_based:${kind}`,
    keys: ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"],
    config: (key, queryTimeout) => ({
      ...conn,
      queryTimeout,
      mechanism: "password_based",
      backend: kind,
      query:
        `SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = \${${key}} LIMIT 1`,
      passwordHashAlgorithm: { name: "sha256", saltPosition: "prefix" },
    }),
    async addUser(key, password, superuser) {
      await exec(`INSERT INTO mqtt_user VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`, [
        key,
        saltedSha256(password, "s4lt"),
        "s4lt",
        superuser,
      ]);
    },
    async intact() {
      const rows = await exec("SELECT COUNT(*) AS n FROM mqtt_user");
      assert.ok(Number(rows[0]?.n) >= 2, "mqtt_user still holds its rows");
    },
    pause: () => srv.process.pause(),
    resume: () => srv.process.resume(),
    kill: () => srv.process.kill(),
  };
  const authz: AuthzBackend = {
    type: kind,
    canDeny: true,
    conditions: true,
    config: (queryTimeout) => ({
      ...conn,
      queryTimeout,
      type: kind,
      query:
        "SELECT permission, action, topic, qos, retain FROM mqtt_acl WHERE username = ${username}",
    }),
    async setRules(user, rules) {
      await exec(`DELETE FROM mqtt_acl WHERE username = ${p(1)}`, [user]);
      for (const r of rules) {
        await exec(
          `INSERT INTO mqtt_acl VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
          [
            user,
            r.permission,
            r.action,
            r.topic,
            r.qos ? r.qos.join(",") : null,
            r.retain === undefined ? null : r.retain ? 1 : 0,
          ],
        );
      }
    },
    pause: () => srv.process.pause(),
    resume: () => srv.process.resume(),
  };
  return { authn, authz };
}
