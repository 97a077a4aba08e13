/**
 * BrokerControl keeps bans in the store (issue 13): a ban added or deleted through it is
 * committed before the answer, a new BrokerControl on the same file loads the bans in force,
 * spreads them to the shards and deletes the expired ones. Against a real store over the worker
 * protocol (StoreHost, MessagePorts); the shards are a recording stub of ShardRpc.
 */

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Banned } from "../auth/mod.ts";
import { Store, StoreClient, StoreHost } from "../store/mod.ts";
import { cleanup, options, tempDir } from "../store/_test_util.ts";
import { BrokerControl } from "./broker_control.ts";
import type { ShardRpc } from "./shard_rpc.ts";

Deno.test("BrokerControl: bans are kept in the store, loaded at start, expired ones deleted", async () => {
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
    strictEqual(await first.attachStore(connect(), now), 0);
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
    strictEqual(await second.attachStore(connect(), now), 2);
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
