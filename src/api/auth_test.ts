import assert from "node:assert/strict";
import { configSchema } from "../config/mod.ts";
import { MemoryAdminStore } from "./admin_store.ts";
import { ApiAuth } from "./auth.ts";
import { ApiError } from "./_http.ts";
import { weakPassword } from "./_password.ts";

function setup() {
  let now = 1_000_000;
  const c = configSchema.parse({ dashboard: { token_expired_time: "1m" } });
  const auth = new ApiAuth(new MemoryAdminStore(), {
    dashboard: c.dashboard,
    apiKey: c.apiKey,
    now: () => now,
  });
  return { auth, advance: (ms: number) => (now += ms) };
}

function bearer(token: string): Request {
  return new Request("http://x/", { headers: { authorization: `Bearer ${token}` } });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    assert.ok(err instanceof ApiError);
    return err.code;
  }
}

Deno.test("ApiAuth.authenticate() refuses a token after dashboard.token_expired_time", async () => {
  const { auth, advance } = setup();
  await auth.init();
  const { token } = await auth.login("admin", "public");
  const who = await auth.authenticate(bearer(token));
  assert.equal(who.mustChangePassword, true);
  advance(59_000);
  assert.equal(await code(auth.authenticate(bearer(token))), "ok");
  advance(2_000);
  assert.equal(await code(auth.authenticate(bearer(token))), "TOKEN_TIME_OUT");
});

Deno.test("ApiAuth.login() locks a user name after the allowed failures, then unlocks", async () => {
  const { auth, advance } = setup();
  await auth.init();
  for (let i = 0; i < 5; i++) {
    assert.equal(await code(auth.login("admin", "x")), "BAD_USERNAME_OR_PWD");
  }
  assert.equal(await code(auth.login("admin", "public")), "BAD_USERNAME_OR_PWD");
  advance(600_001);
  assert.equal(await code(auth.login("admin", "public")), "ok");
});

Deno.test("ApiAuth.setPassword() clears the forced change and ends older tokens", async () => {
  const { auth } = setup();
  await auth.init();
  const { token, user } = await auth.login("admin", "public");
  await auth.setPassword(user, "Strong-pass-1");
  assert.equal(await code(auth.authenticate(bearer(token))), "BAD_TOKEN");
  const fresh = await auth.login("admin", "Strong-pass-1");
  assert.equal((await auth.authenticate(bearer(fresh.token))).mustChangePassword, false);
});

Deno.test("weakPassword() follows EMQX: 8-64 characters of at least two kinds", () => {
  assert.ok(weakPassword("short1"));
  assert.ok(weakPassword("abcdefghij"));
  assert.ok(weakPassword("1234567890"));
  assert.equal(weakPassword("abcdefg1"), null);
  assert.equal(weakPassword("x".repeat(64) + "1") !== null, true);
});

Deno.test("ApiAuth with seedLazily: init() does not hash; the first use seeds the default admin", async () => {
  const c = configSchema.parse({});
  const admins = new MemoryAdminStore();
  const auth = new ApiAuth(admins, { dashboard: c.dashboard, apiKey: c.apiKey, seedLazily: true });
  await auth.init();
  assert.equal((await admins.list()).length, 0, "not seeded by init()");
  const { user } = await auth.login("admin", "public");
  assert.equal(user.mustChangePassword, true);
  assert.equal((await admins.list()).length, 1);
  // Seeded once: a second use finds the same admin.
  assert.equal((await auth.admins.list()).length, 1);
});
