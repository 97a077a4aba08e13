/**
 * Integration suite 27 (store plumbing): the durable store is opened by the broker process
 * before any listener (issue 13, docs/store.md "How the lead wires it").
 *
 * - node.data_dir that cannot be created: the broker logs the directory and why, and exits 1
 *   before listening.
 * - A corrupt store file: moved aside as `culex.db.corrupt-<timestamp>`, the broker starts with
 *   an empty store, logs it, and publishes the report as the retained
 *   `$SYS/brokers/{node}/store/corruption`.
 * - The same for a truncated file left by a durable run: the stored session is gone
 *   (session present 0 [MQTT-3.2.2-3]) and `$SYS` says why.
 * - The store file lives in node.data_dir (the test helper's own temp directory by default).
 *
 * Broker: 2 shards (each gets its own port to the store worker).
 */

import { assert } from "./_helpers/assert.ts";
import { brokerKind, startBroker } from "./_helpers/broker.ts";
import { closeAll, connackOf, connect, subscribe, takeMatching } from "./_helpers/clients.ts";

const culexOnly = brokerKind() === "culex";

Deno.test({
  name: "27 store: an unusable node.data_dir stops the start with exit 1 and names the directory",
  ignore: !culexOnly,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27_" });
    try {
      // A regular file where the directory's parent should be: mkdir fails (even for root).
      await Deno.writeTextFile(`${dir}/file`, "x");
      const bad = `${dir}/file/data`;
      let err: Error | null = null;
      try {
        const b = await startBroker({ dataDir: bad });
        await b.stop();
      } catch (e) {
        err = e as Error;
      }
      assert(err !== null, "the broker started on a data_dir under a regular file");
      assert(/exited with code 1 before listening/.test(err.message), err.message);
      assert(err.message.includes(`node.data_dir ${bad} is not a writable directory`), err.message);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "27 store: a corrupt file is moved aside, the broker starts empty and $SYS says so",
  ignore: !culexOnly,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27_" });
    // Garbage where the SQLite header should be.
    const junk = new Uint8Array(8192);
    crypto.getRandomValues(junk);
    await Deno.writeFile(`${dir}/culex.db`, junk);
    const broker = await startBroker({
      dataDir: dir,
      shards: 2,
      sets: ["node.name=n27@127.0.0.1"],
    });
    let client = null;
    try {
      const moved = [...Deno.readDirSync(dir)].map((e) => e.name)
        .filter((n) => n.startsWith("culex.db.corrupt-"));
      assert(moved.length === 1, `moved aside: ${moved}`);
      const aside = await Deno.readFile(`${dir}/${moved[0]}`);
      assert(aside.length === junk.length && aside.every((b, i) => b === junk[i]), "kept as is");
      assert(/Store file .*culex\.db was corrupt/.test(broker.logs()), broker.logs());
      client = await connect(broker.url, { protocolVersion: 5, clientId: "c27-sys" });
      await subscribe(client, "$SYS/brokers/n27@127.0.0.1/store/corruption", { qos: 0 });
      const m = await takeMatching(client, (r) => r.topic.endsWith("/store/corruption"), 10_000);
      assert(m.packet.retain, "the corruption report is retained");
      const report = JSON.parse(m.payload) as { path: string; reason: string; movedTo: string[] };
      assert(report.path === `${dir}/culex.db`, m.payload);
      assert(report.movedTo.some((p) => p.endsWith(moved[0]!)), m.payload);
      assert(report.reason.length > 0, m.payload);
      // A new, empty store is in place.
      assert(Deno.statSync(`${dir}/culex.db`).isFile, "a new culex.db");
    } finally {
      await closeAll([client]);
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "27 store: a truncated file (after a durable run) is moved aside and $SYS says so",
  ignore: !culexOnly,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27_" });
    const sets = ["durable_sessions.enable=true", "node.name=t27@127.0.0.1"];
    let broker = await startBroker({ dataDir: dir, sets });
    let client = null;
    try {
      // Some rows: a persistent session with a subscription and queued messages.
      const sub = await connect(broker.url, {
        protocolVersion: 5,
        clientId: "t27sub",
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      await subscribe(sub, "t27/#", { qos: 1 });
      await closeAll([sub]);
      const pub = await connect(broker.url, { protocolVersion: 4, clientId: "t27pub" });
      for (let i = 0; i < 50; i++) await pub.publishAsync("t27/x", "y".repeat(2000), { qos: 1 });
      await closeAll([pub]);
      assert(await broker.stop() === 0, "clean stop");
      const size = Deno.statSync(`${dir}/culex.db`).size;
      assert(size > 8192, `a store with pages: ${size} bytes`);
      await Deno.truncate(`${dir}/culex.db`, Math.floor(size / 2) + 100); // not a page boundary
      broker = await startBroker({ dataDir: dir, sets });
      assert(/Store file .*culex\.db was corrupt/.test(broker.logs()), broker.logs());
      const moved = [...Deno.readDirSync(dir)].map((e) => e.name)
        .filter((n) => n.startsWith("culex.db.corrupt-"));
      assert(moved.length >= 1, `moved aside: ${moved}`);
      client = await connect(broker.url, {
        protocolVersion: 5,
        clientId: "t27sub",
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      // The store started empty: the session is gone [MQTT-3.2.2-3], and $SYS tells why.
      assert(connackOf(client).sessionPresent === false, "no session after the corruption");
      await subscribe(client, "$SYS/brokers/t27@127.0.0.1/store/corruption", { qos: 0 });
      const m = await takeMatching(client, (r) => r.topic.endsWith("/store/corruption"), 10_000);
      const report = JSON.parse(m.payload) as { reason: string; movedTo: string[] };
      assert(report.movedTo.length >= 1 && report.reason !== "", m.payload);
    } finally {
      await closeAll([client]);
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
