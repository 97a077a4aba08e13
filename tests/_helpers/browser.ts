/**
 * Test helper: a real browser for the WebSocket tests. Serves a page and npm:mqtt's browser
 * bundle (dist/mqtt.min.js from Deno's npm cache, so nothing is fetched) on 127.0.0.1, opens it
 * in headless chromium (Debian's package), and reports what the page says. Owns the chromium
 * process, its temp profile and the HTTP server; all are gone when runBrowser() returns.
 */

/** Whether chromium is on PATH. */
export async function hasChromium(): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", "command -v chromium"], stdout: "null" })
    .output().catch(() => null);
  return r?.success ?? false;
}

/** Where Deno keeps npm:mqtt's files (its dist/ has the browser bundle). */
async function mqttPackageDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "npm:mqtt@5.16.0"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    npmPackages: Record<string, { name: string; localPath?: string }>;
  };
  const pkg = Object.values(info.npmPackages).find((p) => p.name === "mqtt");
  if (!pkg?.localPath) throw new Error("npm:mqtt is not in Deno's cache");
  return pkg.localPath;
}

/**
 * Serves a page and npm:mqtt's browser bundle on 127.0.0.1, opens it in headless chromium, calls
 * `whenReady` once the page subscribed, and resolves with what the page reports (bounded).
 */
export async function runBrowser(
  wsPort: number,
  tag: string,
  whenReady: () => Promise<void>,
): Promise<string> {
  const bundle = await Deno.readFile(`${await mqttPackageDir()}/dist/mqtt.min.js`);
  const page = `<!doctype html><html><body><script src="/mqtt.min.js"></script><script>
    const report = (kind, text) => fetch("/" + kind, { method: "POST", body: text });
    const c = mqtt.connect("ws://127.0.0.1:${wsPort}/mqtt", { clientId: "${tag}browser", reconnectPeriod: 0 });
    c.on("error", (e) => report("result", "error:" + e.message));
    c.on("connect", () => c.subscribe("${tag}/browser/down", { qos: 1 }, () => {
      c.publish("${tag}/browser/up", "hello from chromium");
      report("ready", "");
    }));
    c.on("message", (t, p) => report("result", "got:" + new TextDecoder().decode(p)));
  </script></body></html>`;
  const profile = await Deno.makeTempDir({ prefix: "culex_test_chromium_" });
  let settle: (v: string) => void = () => {};
  const result = new Promise<string>((r) => settle = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/mqtt.min.js") {
      return new Response(bundle, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/ready") {
      whenReady().catch((e) => settle(`test error: ${e}`));
      return new Response("ok");
    }
    if (path === "/result") {
      settle(await req.text());
      return new Response("ok");
    }
    return new Response(page, { headers: { "content-type": "text/html" } });
  });
  const chromium = new Deno.Command("chromium", {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${server.addr.port}/`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      result,
      new Promise<string>((r) =>
        timer = setTimeout(() => r("timeout: no result from the page within 30 s"), 30_000)
      ),
    ]);
  } finally {
    clearTimeout(timer);
    try {
      chromium.kill("SIGKILL");
    } catch { /* exited */ }
    await chromium.status;
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
