/**
 * `deno task screenshots`: writes a screenshot of each dashboard page to docs/screenshots/ (the
 * README shows them). Starts a real broker (temp data dir, built-in users and rules, the API on a
 * free port), gives it some life (clients, subscriptions, retained messages, a ban, traffic), and
 * walks the pages in headless chromium, from the log-in form and the forced password change on.
 *
 * Owns docs/screenshots/*.png; everything else it starts is stopped and removed at the end.
 *
 * @module
 */

import { startBroker } from "../tests/_helpers/broker.ts";
import { closeAll, connect, publish, subscribe } from "../tests/_helpers/clients.ts";
import { openBrowser } from "../tests/_helpers/dashboard_browser.ts";
import type { MqttClient } from "mqtt";

const OUT = new URL("../docs/screenshots/", import.meta.url);
const PASSWORD = "Screen-shots-1";
const SETTLE_MS = 1500;

// The page is built, not committed (it holds uPlot): build it from dashboard/ first.
const build = await new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-all", new URL("build_dashboard.ts", import.meta.url).pathname],
}).output();
if (!build.success) throw new Error("deno task dashboard:build failed");

const dir = await Deno.makeTempDir({ prefix: "culex_screenshots_" });
const users = `${dir}/users.csv`;
await Deno.writeTextFile(users, "user_id,password,is_superuser\nsensor,s3nsor-pass,false\n");
const config = `${dir}/culex.yaml`;
await Deno.writeTextFile(
  config,
  `authentication:
  - mechanism: password_based
    backend: built_in_database
    bootstrap_file: ${users}
authorization:
  no_match: allow
  sources:
    - { type: built_in_database, max_rules: 100 }
    - { type: file, path: "" }
`,
);
const broker = await startBroker({
  shards: 2,
  configFile: config,
  sets: [`node.data_dir=${dir}`],
  listeners: ["http:dashboard"],
});
const origin = `http://127.0.0.1:${broker.portOf("http:dashboard")}`;
const clients: MqttClient[] = [];
const browser = await openBrowser();
const { page } = browser;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function shot(name: string): Promise<void> {
  await sleep(SETTLE_MS);
  await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname, fullPage: true });
  console.log(`docs/screenshots/${name}.png`);
}

async function visit(route: string, name: string, wait = SETTLE_MS): Promise<void> {
  await page.goto(`${origin}/#/${route}`);
  await sleep(wait);
  await shot(name);
}

try {
  await Deno.mkdir(OUT, { recursive: true });
  for (let i = 1; i <= 3; i++) {
    const c = await connect(broker.url, {
      protocolVersion: 5,
      clientId: `sensor-${i}`,
      username: "sensor",
      password: "s3nsor-pass",
    });
    clients.push(c);
    await subscribe(c, `plant/line${i}/cmd`, { qos: 1 });
    await publish(c, `plant/line${i}/status`, `{"line":${i},"state":"running"}`, {
      qos: 1,
      retain: true,
    });
  }
  const traffic = setInterval(() => {
    for (const c of clients) void publish(c, "plant/line1/cmd", "tick", { qos: 0 }).catch(() => {});
  }, 200);

  await page.goto(`${origin}/`);
  await page.waitForSelector("#login-form");
  await page.type("input[name=password]", "public");
  await shot("01-login");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#change-password-form");
  await page.type("input[name=old_pwd]", "public");
  await shot("02-change-password");
  await page.type("input[name=new_pwd]", PASSWORD);
  await page.type("input[name=new_pwd_again]", PASSWORD);
  await page.click("#change-password-form button[type=submit]");
  await page.waitForSelector("#stat-connections-count");

  // Some state for the other pages, made through the page's own API.
  const token = await page.evaluate(() => sessionStorage.getItem("culex.token"));
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const post = (path: string, body: unknown) =>
    fetch(`${origin}/api/v5${path}`, { method: "POST", headers, body: JSON.stringify(body) })
      .then((r) => r.body?.cancel());
  await post("/banned", { as: "clientid", who: "rogue-device", reason: "flooding" });
  await post("/banned", { as: "peerhost", who: "192.0.2.7", reason: "scanner" });
  await post("/authorization/sources/built_in_database/rules/users", [
    { username: "sensor", rules: [{ topic: "plant/#", permission: "allow", action: "all" }] },
  ]);

  await sleep(20_000); // the charts need samples
  await shot("03-overview");
  clearInterval(traffic);
  await visit("clients", "04-clients");
  await visit("clients/sensor-1", "05-client");
  await visit("subscriptions", "06-subscriptions");
  await visit("topics", "07-topics");
  await visit("retained", "08-retained");
  await page.click("#main table button.secondary");
  await shot("09-retained-message");
  await visit("banned", "10-banned");
  await visit("listeners", "11-listeners");
  await visit("authentication", "12-authentication");
  await visit("authorization", "13-authorization");
  await visit("metrics", "14-metrics");
  await page.goto(`${origin}/#/publish`);
  await page.waitForSelector("#publish-form");
  await page.click("#publish-form button[type=submit]");
  await shot("15-publish");
  await visit("configuration", "16-configuration");
  await post("/api_key", { name: "ci", desc: "nightly jobs", role: "viewer" });
  await post("/users", {
    username: "operator",
    password: "Night-shift-1",
    description: "night shift",
  });
  // The secret box appears once, right after the key is made through the page.
  await page.goto(`${origin}/#/api-key`);
  await page.waitForSelector("#api-key-form");
  await page.type("#api-key-form input[name=name]", "grafana");
  await page.type("#api-key-form input[name=desc]", "dashboards");
  await page.click("#api-key-form button[type=submit]");
  await page.waitForSelector("#new-api-secret");
  await shot("17-api-keys");
  await visit("users", "18-users");
  if (browser.errors.length > 0) console.error("page errors:", browser.errors);
} finally {
  await browser.close();
  await closeAll(clients);
  await broker.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
