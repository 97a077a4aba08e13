/**
 * Test helper: a real MariaDB (Debian package mariadb-server: mariadb-install-db, mariadbd) in
 * a temp datadir on a free 127.0.0.1 port, with database `mqtt` and user `culex` (password).
 * Owns that server only.
 */

import { freePort, run, type ServerProcess, spawn, waitForPort } from "./_proc.ts";

export interface MariadbServer {
  readonly port: number;
  readonly server: string;
  readonly database: string;
  readonly username: string;
  readonly password: string;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

/** mariadb-install-db + mariadbd; root is reachable only through the temp socket. */
export async function startMariadb(): Promise<MariadbServer> {
  const dir = await Deno.makeTempDir({ prefix: "culex-maria-" });
  const user = Deno.uid() === 0 ? ["--user=root"] : [];
  await run("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${dir}/data`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    ...user,
  ]);
  const port = freePort();
  const socket = `${dir}/mysqld.sock`;
  const p = spawn("mariadbd", [
    "--no-defaults",
    `--datadir=${dir}/data`,
    `--socket=${socket}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    "--skip-name-resolve",
    `--pid-file=${dir}/mysqld.pid`,
    "--innodb-buffer-pool-size=16M",
    "--skip-log-bin",
    ...user,
  ]);
  await waitForPort(port, 30_000, p.logs);
  const { createConnection } = await import("mysql2/promise");
  const root = await createConnection({ socketPath: socket, user: "root" });
  try {
    await root.query("CREATE DATABASE mqtt");
    await root.query("CREATE USER 'culex'@'%' IDENTIFIED BY 'culex-pw'");
    await root.query("GRANT ALL ON mqtt.* TO 'culex'@'%'");
  } finally {
    await root.end();
  }
  return {
    port,
    server: `127.0.0.1:${port}`,
    database: "mqtt",
    username: "culex",
    password: "culex-pw",
    process: p,
    async stop() {
      await p.stop(10_000);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
