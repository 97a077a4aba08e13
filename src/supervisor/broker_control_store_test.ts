/**
 * BrokerControl keeps bans in the store (issue 13): a ban added or deleted through it is
 * committed before the answer, a new BrokerControl on the same file loads the bans in force,
 * spreads them to the shards and deletes the expired ones. Against a real store over the worker
 * protocol (StoreHost, MessagePorts); the shards are a recording stub of ShardRpc.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Banned } from "../auth/mod.ts";
import { Store, StoreBatch, StoreClient, StoreHost } from "../store/mod.ts";
import { cleanup, msg, options, tempDir } from "../store/_test_util.ts";
import { BrokerControl } from "./broker_control.ts";
import type { ShardRpc } from "./shard_rpc.ts";

/** A store in a temp dir with its worker host, and `connect` for a new port (kept in `ports`). */
function openStore() {
  const dir = tempDir();
  const store = Store.open(options(dir));
  const host = new StoreHost(store);
  const ports: StoreClient[] = [];
  const connect = () => {
    const ch = new MessageChannel();
    host.attach(ch.port1);
    const c = new StoreClient(ch.port2);
    ports.push(c);
    return c;
  };
  return { dir, store, host, ports, connect };
}

Deno.test("BrokerControl: bans are kept in the store, loaded at start, expired ones deleted", async () => {
  const { dir, store, host, ports, connect } = openStore();
  const spread: string[] = [];
  const rpc = {
    gather: (method: string, params: { entry?: { who: string }; who?: string }) => {
      spread.push(`${method} ${params.entry?.who ?? params.who}`);
      return Promise.resolve([]);
    },
  } as unknown as ShardRpc;
  let now = 1_000_000;
  const control = (banned: Banned) => new BrokerControl(rpc, () => 1, () => 0, banned);
  try {
    const first = control(new Banned(() => now));
    strictEqual((await first.attachStore(connect(), { now })).bans, 0);
    await first.addBan({ as: "clientid", who: "forever", at: now });
    await first.addBan({ as: "username", who: "brief", at: now, until: now + 1000 });
    await first.addBan({ as: "peerhost_net", who: "10.0.0.0/8", at: now, until: now + 60_000 });
    await first.addBan({ as: "clientid", who: "gone", at: now });
    strictEqual(await first.deleteBan("clientid", "gone"), true);
    deepStrictEqual(
      store.security.bannedList().map((b) => [b.as, b.who, b.until]).sort(),
      [
        ["clientid", "forever", null],
        ["peerhost_net", "10.0.0.0/8", now + 60_000],
        ["username", "brief", now + 1000],
      ],
    );

    // A restart 2 s later: "brief" has expired.
    now += 2000;
    spread.length = 0;
    const banned = new Banned(() => now);
    const second = control(banned);
    strictEqual((await second.attachStore(connect(), { now })).bans, 2);
    deepStrictEqual(banned.list().map((b) => b.who).sort(), ["10.0.0.0/8", "forever"]);
    deepStrictEqual(spread.sort(), ["banned.add 10.0.0.0/8", "banned.add forever"]);
    deepStrictEqual(store.security.bannedList().map((b) => b.who).sort(), [
      "10.0.0.0/8",
      "forever",
    ]);
    strictEqual(
      banned.isBanned({ clientId: "forever", username: "", peerhost: "" })?.who,
      "forever",
    );
  } finally {
    for (const p of ports) p.close();
    host.close();
    store.close();
    cleanup(dir);
  }
});

Deno.test("BrokerControl with retained on disc: count, listing pages, one message and delete come from the store", async () => {
  const dir = tempDir();
  const store = Store.open(options(dir));
  const host = new StoreHost(store);
  const ch = new MessageChannel();
  host.attach(ch.port1);
  const client = new StoreClient(ch.port2);
  const rpc = {
    gather: () => Promise.resolve([{ "retained.count": 0, "connections.count": 1 }]),
  } as unknown as ShardRpc;
  try {
    const b = new StoreBatch();
    for (let i = 0; i < 25; i++) b.retain(0, msg(`r/${i}`, `p${i}`, { retain: true }));
    b.retain(0, msg("$SYS/brokers/x", "sys", { retain: true }));
    store.apply(b.take());
    const c = new BrokerControl(rpc, () => 1, () => 0, new Banned());
    await c.attachStore(client, { retainedOnDisc: true });
    strictEqual((await c.stats())["retained.count"], 26);
    const p1 = await c.listRetained({ page: 1, limit: 10 });
    const p3 = await c.listRetained({ page: 3, limit: 10 });
    deepStrictEqual([p1.data.length, p1.meta.count, p1.meta.hasnext], [10, 26, true]);
    deepStrictEqual([p3.data.length, p3.meta.hasnext], [6, false]);
    ok(p3.data.some((m) => m.topic === "$SYS/brokers/x"));
    ok(!("payload" in p1.data[0]!));
    strictEqual((await c.getRetained("r/7"))?.payload, btoa("p7"));
    strictEqual(await c.deleteRetained("r/7"), true);
    strictEqual(await c.deleteRetained("r/7"), false);
    strictEqual(await c.getRetained("r/7"), null);
    strictEqual((await c.listRetained({ topic: "r/8" })).data.length, 1);
    strictEqual(await c.cleanRetained("r/#"), 24);
    strictEqual((await c.stats())["retained.count"], 1);
  } finally {
    client.close();
    host.close();
    store.close();
    cleanup(dir);
  }
});

Deno.test("BrokerControl: built-in users and ACL rules are kept in the store and handed to the shards at start", async () => {
  const { dir, store, host, ports, connect } = openStore();
  const spread: string[] = [];
  const rpc = {
    gather: (method: string, params: Record<string, unknown>) => {
      spread.push(`${method} ${JSON.stringify(params)}`);
      return Promise.resolve([true]);
    },
  } as unknown as ShardRpc;
  const opts = { userIdType: "username" as const, aclRules: true };
  try {
    const first = new BrokerControl(rpc, () => 1, () => 0, new Banned());
    await first.attachStore(connect(), opts);
    await first.putAuthnUser({
      userId: "alice",
      isSuperuser: false,
      passwordHash: "h1",
      salt: "s1",
    });
    await first.putAuthnUser({ userId: "bob", isSuperuser: true, passwordHash: "h2", salt: "s2" });
    await first.putAuthnUser({ userId: "gone", isSuperuser: false, passwordHash: "h3", salt: "" });
    await first.deleteAuthnUser("gone");
    const rule = { topic: "t/#", permission: "allow", action: "all" };
    await first.setAclRules("username", "alice", [rule]);
    await first.setAclRules("all", "", [{ ...rule, permission: "deny" }]);
    await first.setAclRules("clientid", "c1", [rule]);
    await first.deleteAclRules("clientid", "c1");

    spread.length = 0;
    const second = new BrokerControl(rpc, () => 1, () => 0, new Banned());
    deepStrictEqual(await second.attachStore(connect(), opts), { bans: 0, users: 2, aclRules: 2 });
    deepStrictEqual(spread, [
      `authn.users.put {"user":{"userId":"alice","isSuperuser":false,"passwordHash":"h1","salt":"s1"}}`,
      `authn.users.put {"user":{"userId":"bob","isSuperuser":true,"passwordHash":"h2","salt":"s2"}}`,
      `authz.rules.set {"kind":"all","who":"","rules":[{"topic":"t/#","permission":"deny","action":"all"}]}`,
      `authz.rules.set {"kind":"username","who":"alice","rules":[{"topic":"t/#","permission":"allow","action":"all"}]}`,
    ]);
    // Without a built-in authenticator or source nothing is handed over.
    spread.length = 0;
    const third = new BrokerControl(rpc, () => 1, () => 0, new Banned());
    deepStrictEqual(await third.attachStore(connect()), { bans: 0, users: 0, aclRules: 0 });
    deepStrictEqual(spread, []);
  } finally {
    for (const p of ports) p.close();
    host.close();
    store.close();
    cleanup(dir);
  }
});
