/**
 * Test helper: a real PostgreSQL 15 (Debian package postgresql, binaries under
 * /usr/lib/postgresql/15/bin) initialised in a temp dir and listening on a free 127.0.0.1 port,
 * password authentication for a test role. PostgreSQL refuses to run as root, so as root the
 * binaries run as the "postgres" user (or "nobody") through setpriv. Owns that cluster only.
 */

import {
  asUser,
  freePort,
  run,
  type ServerProcess,
  spawn,
  tempDirFor,
  waitForPort,
} from "./_proc.ts";

const BIN = Deno.env.get("CULEX_PG_BIN") ?? "/usr/lib/postgresql/15/bin";

export interface PostgresServer {
  readonly port: number;
  readonly server: string;
  readonly database: string;
  readonly username: string;
  readonly password: string;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

async function userExists(name: string): Promise<boolean> {
  try {
    await run("id", [name]);
    return true;
  } catch {
    return false;
  }
}

/** initdb + postgres; creates database `mqtt` owned by role `culex` (password login). */
export async function startPostgres(): Promise<PostgresServer> {
  const user = (await userExists("postgres")) ? "postgres" : "nobody";
  const dir = await tempDirFor(user, "culex-pg-");
  const data = `${dir}/data`;
  const pwfile = `${dir}/pw`;
  await Deno.writeTextFile(pwfile, "pg-admin-pw\n");
  await run("chmod", ["644", pwfile]);
  const [c1, a1] = asUser(user, `${BIN}/initdb`, [
    "-D",
    data,
    "-U",
    "admin",
    "--pwfile",
    pwfile,
    "-A",
    "scram-sha-256",
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  await run(c1, a1, { cwd: dir });
  const port = freePort();
  const [c2, a2] = asUser(user, `${BIN}/postgres`, [
    "-D",
    data,
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "fsync=off",
  ]);
  const p = spawn(c2, a2, { cwd: dir });
  await waitForPort(port, 30_000, p.logs);
  const { default: postgres } = await import("postgres");
  const admin = postgres({
    host: "127.0.0.1",
    port,
    username: "admin",
    password: "pg-admin-pw",
    database: "postgres",
    onnotice: () => {},
  });
  try {
    // The port opens before recovery ends ("the database system is starting up"): retry.
    for (let i = 0;; i++) {
      try {
        await admin.unsafe("SELECT 1");
        break;
      } catch (e) {
        if (i >= 150) {
          throw new Error(`PostgreSQL did not become ready: ${(e as Error).message}\n${p.logs()}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await admin.unsafe("CREATE ROLE culex LOGIN PASSWORD 'culex-pw'");
    await admin.unsafe("CREATE DATABASE mqtt OWNER culex");
  } finally {
    await admin.end();
  }
  return {
    port,
    server: `127.0.0.1:${port}`,
    database: "mqtt",
    username: "culex",
    password: "culex-pw",
    process: p,
    async stop() {
      await p.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
