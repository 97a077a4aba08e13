/**
 * Store with real files: opening (a new data_dir, a reader beside the writer, several isolates
 * opening a new file at once) and the security tables (bans, built-in users, ACL rules).
 */

import { makeKey, Store, StoreBatch, StoreError } from "./mod.ts";
import {
  assert,
  assertEquals,
  cleanup,
  msg,
  options,
  session,
  tempDir,
  withStore,
} from "./_test_util.ts";

Deno.test("Store.open() creates data_dir and an empty store file at the current version", () => {
  const dir = tempDir();
  try {
    const store = Store.open(options(`${dir}/nested/data`));
    assertEquals(store.report.created, true);
    assertEquals(store.report.corruption, null);
    assertEquals([store.report.migratedFrom, store.report.version], [0, 1]);
    assert(Deno.statSync(`${dir}/nested/data/culex.db`).isFile);
    store.close();
    const again = Store.open(options(`${dir}/nested/data`));
    assertEquals([again.report.created, again.report.migratedFrom], [false, 1]);
    again.close();
  } finally {
    cleanup(dir);
  }
});

Deno.test("Store keeps bans, built-in users and ACL rules", () => {
  withStore((store) => {
    store.security.bannedPut({
      as: "clientid",
      who: "bad",
      by: "mgmt_api",
      reason: "",
      at: 1,
      until: null,
    });
    store.security.bannedPut({
      as: "peerhost",
      who: "10.0.0.1",
      by: "x",
      reason: "r",
      at: 2,
      until: 99,
    });
    assertEquals(store.security.bannedList().map((b) => [b.as, b.who, b.until]), [
      ["clientid", "bad", null],
      ["peerhost", "10.0.0.1", 99],
    ]);
    assertEquals(store.security.bannedList({ as: "clientid", who: "bad" }, 10).length, 1);
    store.security.bannedDelete("clientid", "bad");
    assertEquals(store.security.bannedGet("clientid", "bad"), null);

    const user = {
      userIdType: "username",
      userId: "alice",
      passwordHash: "ab12",
      salt: "s",
      isSuperuser: true,
    } as const;
    store.security.usersPut(user);
    store.security.usersPut({ ...user, userId: "bob", isSuperuser: false });
    assertEquals(store.security.usersGet("username", "alice"), user);
    assertEquals(store.security.usersList("username").map((u) => u.userId), ["alice", "bob"]);
    assertEquals(store.security.usersList("clientid"), []);
    store.security.usersDelete("username", "alice");
    assertEquals(store.security.usersGet("username", "alice"), null);

    const rules = [
      { topic: "t/#", permission: "allow", action: "publish", qos: [0, 1], retain: "all" },
      { topic: "#", permission: "deny", action: "all" },
    ] as const;
    store.security.aclRulesPut("username", "bob", rules);
    store.security.aclRulesPut("all", "", [{
      topic: "$SYS/#",
      permission: "deny",
      action: "subscribe",
    }]);
    assertEquals(store.security.aclRulesGet("username", "bob")?.rules, rules);
    assertEquals(store.security.aclRulesList("all").length, 1);
    store.security.aclRulesDelete("username", "bob");
    assertEquals(store.security.aclRulesGet("username", "bob"), null);
  });
});

Deno.test("Store opened readOnly beside the writer reads its commits and refuses writes", () => {
  withStore((store, dir) => {
    const reader = Store.open(options(dir, { readOnly: true }));
    try {
      const b = new StoreBatch();
      b.session(session(makeKey(8, 1), "r"));
      b.retain(8, msg("ro/1"));
      store.apply(b.take());
      assertEquals(reader.sessions([8], 0, 10).map((s) => s.clientId), ["r"]);
      assertEquals(reader.retainedQuery("ro/#", null, 10).rows.length, 1);
      let err: unknown;
      try {
        reader.apply(b.take());
        b.retain(8, msg("ro/2"));
        reader.apply(b.take());
      } catch (e) {
        err = e;
      }
      assert(err instanceof StoreError, String(err));
      assertEquals(store.retainedCount(), 1);
    } finally {
      reader.close();
    }
  });
});

Deno.test("Store.open() from several isolates at once on a new file migrates it once", async () => {
  const dir = tempDir();
  try {
    const url = new URL("./_open_race_worker.ts", import.meta.url);
    const workers = Array.from({ length: 4 }, () => new Worker(url, { type: "module" }));
    const barrier = new SharedArrayBuffer(4);
    const results = await Promise.all(workers.map((w, index) =>
      new Promise<string>((resolve) => {
        w.onmessage = (e: MessageEvent<string>) => resolve(e.data);
        w.postMessage({ dir, index, barrier, n: workers.length });
      })
    ));
    for (const w of workers) w.terminate();
    assertEquals(results, ["ok", "ok", "ok", "ok"]);
    const store = Store.open(options(dir));
    assertEquals(store.sessions([0, 1, 2, 3], 0, 10).length, 4);
    store.close();
  } finally {
    cleanup(dir);
  }
});
