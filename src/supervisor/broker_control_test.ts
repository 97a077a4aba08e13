// BrokerControl and ShardRpc against a real node: the supervisor started in this process with
// four real shard workers, real MQTT clients (npm:mqtt) over TCP. Every answer comes from the
// shards through Request/Reply records (issue #11, supervisor ↔ shards request/reply).
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { loadConfig } from "../config/mod.ts";
import { fnv1a32, startSupervisor } from "./mod.ts";

/** The store of the nodes started here: a temp directory, never the repository's data/. */
const DATA_DIR = Deno.makeTempDirSync({ prefix: "culex_test_data_" });

const SHARDS = 4;

/** A client id whose hash lands on `shard`, as the supervisor places connections. */
function idOn(shard: number, prefix: string): string {
  for (let i = 0;; i++) {
    const id = `${prefix}-${i}`;
    if (fnv1a32(id) % SHARDS === shard) return id;
  }
}

async function client(port: number, clientId: string, clean = true): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId,
    clean,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...(clean ? {} : { properties: { sessionExpiryInterval: 600 } }),
  });
  return c;
}

Deno.test("BrokerControl: clients, subscriptions, publish, stats and retained answered by real shards", async () => {
  // `deno test` type-checks a worker module when it is spawned, once per worker and cached only
  // when one finishes: four shards starting at once on a cold cache each check the whole shard
  // graph. One shard first fills the cache, so the real node below starts in seconds.
  const warm = await startSupervisor(loadConfig({
    env: {},
    sets: [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.enable=false",
      `node.data_dir=${DATA_DIR}`,
      "log.level=error",
    ],
    shards: 1,
  }));
  await warm.stop();
  const config = loadConfig({
    env: {},
    sets: [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.enable=false",
      `node.data_dir=${DATA_DIR}`,
      "log.level=error",
      "sys_topics.sys_msg_interval=0",
    ],
    shards: SHARDS,
  });
  const node = await startSupervisor(config);
  const port = node.addresses.get("tcp:default")!.port;
  const clients: mqtt.MqttClient[] = [];
  try {
    const ids = [0, 1, 2, 3, 0, 1].map((s, i) => idOn(s, `bc${i}`));
    for (const id of ids) clients.push(await client(port, id));
    const c = node.control;

    // Paging across shards: every client exactly once, in pages of 4, with EMQX's meta.
    const p1 = await c.listClients({ page: 1, limit: 4 });
    const p2 = await c.listClients({ page: 2, limit: 4 });
    assert.equal(p1.meta.count, 6);
    assert.deepEqual([p1.meta.hasnext, p2.meta.hasnext], [true, false]);
    const listed = [...p1.data, ...p2.data].map((x) => x.clientid as string);
    assert.deepEqual([...listed].sort(), [...ids].sort());
    const filtered = await c.listClients({ filter: { like_clientid: "bc3" } });
    assert.deepEqual(filtered.data.map((x) => x.clientid), [ids[3]]);

    // One client, routed to its shard; unknown → null.
    const one = await c.getClient(ids[2]!);
    assert.equal(one?.connected, true);
    assert.equal(one?.proto_ver, 5);
    assert.equal(await c.getClient("nobody-here"), null);

    // Subscribe on a client's behalf, then publish from outside a client: delivered.
    const target = clients[1]!;
    const got = new Promise<string>((resolve) =>
      target.on("message", (topic, payload) => resolve(`${topic}=${payload}`))
    );
    assert.deepEqual(await c.subscribe(ids[1]!, [{ topic: "ctl/t", qos: 1 }]), [1]);
    const subs = await c.clientSubscriptions(ids[1]!);
    assert.deepEqual(subs?.map((s) => [s.topic, s.qos]), [["ctl/t", 1]]);
    assert.deepEqual(await c.publish([{ topic: "ctl/t", payload: "hi", qos: 1 }]), [0]);
    assert.equal(await got, "ctl/t=hi");
    assert.deepEqual(await c.publish([{ topic: "ctl/nobody", payload: "x" }]), [0x10]);

    // Retained: stored on the topic's owner shard, listed across shards, read and deleted.
    await c.publish([{ topic: "ctl/r/1", payload: "one", retain: true }, {
      topic: "ctl/r/2",
      payload: "dHdv",
      encoding: "base64",
      retain: true,
    }]);
    const retained = await c.listRetained({});
    assert.deepEqual(retained.data.map((m) => m.topic).sort(), ["ctl/r/1", "ctl/r/2"]);
    assert.equal((await c.getRetained("ctl/r/2"))?.payload, "dHdv");
    assert.equal(await c.deleteRetained("ctl/r/2"), true);
    assert.equal(await c.getRetained("ctl/r/2"), null);

    // Stats and metrics summed over shards.
    const stats = await c.stats();
    assert.equal(stats["connections.count"], 6);
    assert.equal(stats["subscriptions.count"], 1);
    assert.equal(stats["retained.count"], 1);
    const metrics = await c.metrics();
    assert.ok((metrics["packets.connect.received"] ?? 0) >= 6);
    const topics = await c.listTopics({});
    assert.deepEqual(topics.data.map((t) => t.topic), ["ctl/t"]);

    // A ban added while the client is connected: every isolate keeps it, the client is kicked
    // (MQTT 5: DISCONNECT 0x8A) and refused on its next CONNECT.
    const banned = clients[5]!;
    const gone = new Promise<number | undefined>((resolve) =>
      banned.once("disconnect", (p) => resolve(p.reasonCode))
    );
    const added = await c.addBan({ as: "clientid", who: ids[5]!, reason: "test" });
    assert.ok("added" in added);
    assert.equal(await gone, 0x98); // kicked as an administrative action; CONNACK 0x8A after
    assert.deepEqual(c.listBans().map((b) => b.who), [ids[5]]);
    await assert.rejects(client(port, ids[5]!), (e: { code?: number }) => e.code === 0x8a);
    assert.equal(await c.deleteBan("clientid", ids[5]!), true);
    (await client(port, ids[5]!)).end(true);

    // Kick: the client is disconnected and its session discarded.
    const closed = new Promise<void>((resolve) => clients[4]!.once("close", () => resolve()));
    assert.equal(await c.kickClient(ids[4]!), true);
    await closed;
    assert.equal(await c.getClient(ids[4]!), null);
    assert.equal(await c.kickClient(ids[4]!), false);
  } finally {
    for (const cl of clients) cl.end(true);
    await node.stop();
  }
});
