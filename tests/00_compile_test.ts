/**
 * Integration suite 00: compile.sh when `deno compile` cannot download denort (offline, as in
 * this environment): it fails and its last words tell the operator to give DENORT_BIN. Runs
 * compile.sh for real on a copy of the repository (it writes dist/ and the dashboard assets)
 * with every proxy pointed at a closed port, so the download fails the same way everywhere.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";

const REPO = new URL("../", import.meta.url).pathname;
const TARGET = "x86_64-unknown-linux-gnu";
const COPY = ["compile.sh", "main.ts", "deno.json", "deno.lock", "config", "src", "workers"];

async function run(cmd: string, args: string[], opts: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd, { ...opts, args, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** True when denort for TARGET is already in Deno's cache: then compile.sh needs no network. */
async function denortCached(): Promise<boolean> {
  const info = await run(Deno.execPath(), ["info", "--json"]);
  const dir = (JSON.parse(info.stdout) as { denoDir: string }).denoDir;
  const version = Deno.version.deno;
  try {
    Deno.statSync(`${dir}/dl/release/v${version}/denort-${TARGET}.zip`);
    return true;
  } catch {
    return false;
  }
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name: "00 compile.sh: without denort it fails naming DENORT_BIN",
  ignore: Deno.build.os !== "linux" || await denortCached(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_compile_" });
    try {
      // tools/ and dashboard/ too: compile.sh builds the dashboard's assets first.
      const copied = await run("cp", ["-r", ...COPY, "tools", "dashboard", dir], { cwd: REPO });
      assertEquals(copied.code, 0, `copy: ${copied.stderr}`);
      const proxy = `http://127.0.0.1:${closedPort()}`;
      const env: Record<string, string> = { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, NO_COLOR: "1" };
      const r = await run("bash", ["compile.sh", TARGET], {
        cwd: dir,
        env: { ...env, DENO: Deno.execPath() },
        signal: AbortSignal.timeout(240_000),
      });
      assert(r.code !== 0, `compile.sh fails offline; stderr:\n${r.stderr}`);
      const last = r.stderr.trim().split("\n").slice(-3).join("\n");
      assert(
        /compile\.sh: deno compile failed for x86_64-unknown-linux-gnu\. .*DENORT_BIN=\/path\/to\/denort \.\/compile\.sh x86_64-unknown-linux-gnu/
          .test(last),
        `the last lines name DENORT_BIN; stderr:\n${r.stderr}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
