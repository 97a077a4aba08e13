/**
 * Integration suite 24 (issue 14): the API over HTTPS (`dashboard.listeners.https` with
 * `ssl_options`, checked against the test CA), and what survives a restart on the same
 * `node.data_dir`: a changed admin password (kept in the durable store; the default admin/public
 * does not come back) and API keys made through the API (secrets kept only as digests, file mode
 * 0600). An admin added from the shell before anyone changed the default password does not take
 * the default admin's place after a restart (it stays, still forced to change its password).
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { Api } from "./_helpers/api.ts";
import { startBroker } from "./_helpers/broker.ts";
import { makeCerts } from "./_helpers/certs.ts";
import { ctl } from "./_helpers/culex_cli.ts";

Deno.test("24 api https: TLS listener, admins and API keys kept across a restart", async (t) => {
  const certs = await makeCerts();
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test_api_https_" });
  const sets = [
    "dashboard.listeners.https.enable=true",
    "dashboard.listeners.https.bind=127.0.0.1:0",
    `dashboard.listeners.https.ssl_options.certfile=${certs.serverCert}`,
    `dashboard.listeners.https.ssl_options.keyfile=${certs.serverKey}`,
  ];
  const client = Deno.createHttpClient({ caCerts: [certs.ca] });
  try {
    let key = { key: "", secret: "" };
    const first = await startBroker({
      sets,
      dataDir,
      listeners: ["http:dashboard", "https:dashboard"],
    });
    try {
      await t.step(
        "HTTPS answers /status and the API with the configured certificate",
        async () => {
          const port = first.portOf("https:dashboard");
          const r = await fetch(`https://127.0.0.1:${port}/api/v5/status?format=json`, { client });
          assertEquals(r.status, 200, "status over TLS");
          assertEquals((await r.json()).app_status, "running", "running");
          const login = await fetch(`https://127.0.0.1:${port}/api/v5/login`, {
            client,
            method: "POST",
            body: JSON.stringify({ username: "admin", password: "public" }),
          });
          assertEquals(login.status, 200, "login over TLS");
          await login.body?.cancel();
        },
      );

      await t.step("change the admin password and make an API key", async () => {
        const api = new Api(first.portOf("http:dashboard"));
        await api.asAdmin("Kept-across-1");
        const r = await api.post("/api_key", { name: "kept" });
        assertEquals(r.status, 200, r.text);
        key = { key: r.json.api_key, secret: r.json.api_secret };
        const st = await Deno.stat(`${dataDir}/api_keys.json`);
        assertEquals((st.mode ?? 0) & 0o777, 0o600, "api_keys.json mode");
        const text = await Deno.readTextFile(`${dataDir}/api_keys.json`);
        assert(!text.includes(key.secret), "only a digest of the secret");
      });
    } finally {
      assertEquals(await first.stop(), 0, "clean stop");
    }

    const second = await startBroker({ sets, dataDir, listeners: ["http:dashboard"] });
    try {
      await t.step("after a restart: the new password, not public; the API key", async () => {
        const api = new Api(second.portOf("http:dashboard"));
        const old = await api.post("/login", { username: "admin", password: "public" }, {
          as: null,
        });
        assertEquals(old.status, 401, "public does not come back");
        const token = await api.login("admin", "Kept-across-1");
        assertEquals((await api.get("/clients", { as: { token } })).status, 200, "token works");
        assertEquals((await api.get("/stats", { as: key })).status, 200, "API key kept");
      });
    } finally {
      assertEquals(await second.stop(), 0, "clean stop");
    }
  } finally {
    client.close();
    await certs.remove();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("24 api https: an admin added from the shell does not replace the default admin across a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test_api_admins_" });
  try {
    const first = await startBroker({ dataDir, listeners: ["http:dashboard"] });
    try {
      const out = await ctl(dataDir, "admins", "add", "ops", "Shell-added-1");
      assertEquals(out.trim(), "ok", "ctl admins add");
    } finally {
      assertEquals(await first.stop(), 0, "clean stop");
    }
    const second = await startBroker({ dataDir, listeners: ["http:dashboard"] });
    try {
      const api = new Api(second.portOf("http:dashboard"));
      const ops = await api.post("/login", { username: "ops", password: "Shell-added-1" }, {
        as: null,
      });
      assertEquals(ops.status, 200, "the added admin");
      const admin = await api.post("/login", { username: "admin", password: "public" }, {
        as: null,
      });
      assertEquals(admin.status, 200, "the default admin is still there");
      assertEquals(admin.json.password_change_required, true, "and still must change it");
      const blocked = await api.get("/clients", { as: { token: admin.json.token } });
      assertEquals(blocked.status, 403, "its token does nothing else (server side)");
    } finally {
      assertEquals(await second.stop(), 0, "clean stop");
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
