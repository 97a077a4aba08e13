/**
 * Test helper: a MongoDB-wire-compatible server for the mongodb backends. No MongoDB server
 * exists in Debian or runs from npm here without downloading a binary; the one found that
 * installs from npm as plain JavaScript is CongoDB, shipped in @push.rocks/smartmongo 2.2.0
 * (MIT). Its npm dependency tree does not resolve as published (a transitive version is
 * missing from the registry), so this helper installs it once with npm into a cache dir, with
 * overrides that pin the missing piece and drop the parts that would download MongoDB, and
 * runs it under Node on a free 127.0.0.1 port. It speaks the wire protocol the official
 * `mongodb` driver uses (hello, find, insert) but is not MongoDB: the README says so.
 */

import { freePort, run, type ServerProcess, spawn, waitForPort } from "./_proc.ts";

const VERSION = "2.2.0";
const PACKAGE = {
  private: true,
  dependencies: { "@push.rocks/smartmongo": VERSION },
  overrides: {
    "@push.rocks/mongodump": "1.1.0",
    "mongodb-memory-server": "npm:empty-npm-package@1.0.0",
    "@push.rocks/smartdata": "npm:empty-npm-package@1.0.0",
  },
};
const SERVER = `
import { congodb } from "@push.rocks/smartmongo";
const port = Number(process.argv[2]);
const server = new congodb.CongoServer({ port, host: "127.0.0.1" });
await server.start();
console.log("congodb listening on " + port);
process.on("SIGTERM", async () => { await server.stop(); process.exit(0); });
`;

function cacheDir(): string {
  const home = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${home}/culex-test/congodb-${VERSION}`;
}

/** Installs CongoDB once (npm install --ignore-scripts); later calls reuse it. */
export async function ensureCongodb(): Promise<string> {
  const dir = cacheDir();
  try {
    await Deno.stat(`${dir}/node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js`);
    return dir;
  } catch { /* not installed yet */ }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify(PACKAGE, null, 2));
  await run("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
  });
  await Deno.writeTextFile(`${dir}/server.mjs`, SERVER);
  return dir;
}

export interface MongoServer {
  readonly port: number;
  readonly server: string;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

/** Starts CongoDB under Node; resolves when it accepts connections. */
export async function startMongo(): Promise<MongoServer> {
  const dir = await ensureCongodb();
  await Deno.writeTextFile(`${dir}/server.mjs`, SERVER);
  const port = freePort();
  const p = spawn("node", [`${dir}/server.mjs`, String(port)], { cwd: dir });
  await waitForPort(port, 20_000, p.logs);
  return { port, server: `127.0.0.1:${port}`, process: p, stop: () => p.stop() };
}
