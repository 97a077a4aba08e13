import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./mod.ts";

function configError(sets: string[]): ConfigError {
  try {
    loadConfig({ sets });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

Deno.test("dashboard.* and api_key.* have EMQX's defaults", () => {
  const c = loadConfig({});
  assert.equal(c.dashboard.listeners.http.bind, "0.0.0.0:18083");
  assert.equal(c.dashboard.listeners.https.enable, false);
  assert.equal(c.dashboard.defaultUsername, "admin");
  assert.equal(c.dashboard.tokenExpiredTime, 3_600_000);
  assert.equal(c.apiKey.bootstrapFile, "");
});

Deno.test("dashboard.listeners.https needs ssl_options when enabled, naming the key", () => {
  const e = configError(["dashboard.listeners.https.enable=true"]);
  assert.match(e.message, /dashboard\.listeners\.https\.ssl_options/);
});

Deno.test("dashboard keys refuse bad values, naming the key", () => {
  assert.match(
    configError(["dashboard.token_expired_time=soon"]).message,
    /dashboard\.token_expired_time/,
  );
  assert.match(configError(["dashboard.listeners.http.bind=nope"]).message, /http\.bind/);
  assert.match(configError(["api_key.max_keys=0"]).message, /api_key\.max_keys/);
});

Deno.test("dashboard https refuses what Deno.serve would ignore: verify_peer, key passwords", () => {
  const base = [
    "dashboard.listeners.https.enable=true",
    "dashboard.listeners.https.ssl_options.certfile=c.pem",
    "dashboard.listeners.https.ssl_options.keyfile=k.pem",
    "dashboard.listeners.https.ssl_options.cacertfile=ca.pem",
  ];
  assert.match(
    configError([...base, "dashboard.listeners.https.ssl_options.verify=verify_peer"]).message,
    /https\.ssl_options\.verify/,
  );
  assert.match(
    configError([...base, "dashboard.listeners.https.ssl_options.password=x"]).message,
    /https\.ssl_options\.password/,
  );
});
