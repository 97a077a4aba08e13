/**
 * Integration suite 29 (cluster3, issue 15): retained deletes made through the HTTP API
 * (`DELETE /mqtt/retainer/message/{topic}`) and `culex ctl retainer clean [<Topic>]` reach the
 * other nodes as a client's empty retained PUBLISH does [MQTT-3.3.1-6, MQTT-3.3.1-7 for what a
 * clear means]; and with retained messages on disc (`retainer.backend.storage_type = disc`) the
 * clear survives a restart of the node that made it: a node that was down during the delete
 * gets the clear when it links to the restarted node, instead of keeping the message; and a
 * node on disc sends its retained set on link up, the newer of two writes winning on both.
 * Two real Culex nodes by static seeds, real clients (npm:mqtt), a real `culex ctl`.
 */

import type { MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { closeAll, collect, connect, publish, runTag, subscribe } from "./_helpers/clients.ts";
import { freePorts, waitLog, waitUp } from "./_helpers/cluster.ts";
import { culex } from "./_helpers/culex_cli.ts";
import { Api } from "./_helpers/api.ts";
import { DiscRetainNodes } from "./_helpers/disc_retain_nodes.ts";

Deno.test({ name: "29 cluster3: retained deletes by API and ctl reach every node" }, async (t) => {
  const tag = runTag();
  const [pa, pb] = freePorts(2) as [number, number];
  const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
  const base = `r3/${tag}`;
  const nodes = new DiscRetainNodes("culex_29c3r_", seeds, base);
  const clients: MqttClient[] = [];
  try {
    let a = await nodes.start("a", pa);
    let b = await nodes.start("b", pb);
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    const api = new Api(a.broker.portOf("http:dashboard"));
    await api.asAdmin();
    const pub = await connect(a.url, { protocolVersion: 5, clientId: `rp29c3-${tag}` });
    clients.push(pub);
    const all = ["api", "c/1", "c/2", "keep", "later"].map((s) => `${base}/${s}`);
    for (const topic of all) await publish(pub, topic, `v-${topic}`, { qos: 1, retain: true });

    await t.step("retained messages written on A are on B", async () => {
      await nodes.awaitTopics(b, all);
    });

    await t.step("DELETE /mqtt/retainer/message/{topic} on A clears it on B", async () => {
      const r = await api.delete(`/mqtt/retainer/message/${encodeURIComponent(`${base}/api`)}`);
      assert.equal(r.status, 204, r.text);
      await nodes.awaitTopics(b, all.filter((x) => !x.endsWith("/api")));
    });

    await t.step("ctl retainer clean <Filter> on B clears them on A", async () => {
      const r = await culex(nodes.dir("b"), ["ctl", "retainer", "clean", `${base}/c/#`]);
      assert.equal(r.code, 0, r.stderr);
      await nodes.awaitTopics(a, [`${base}/keep`, `${base}/later`]);
      await nodes.awaitTopics(b, [`${base}/keep`, `${base}/later`]);
    });

    await t.step("a clear on disc outlives A's restart and reaches B, down meanwhile", async () => {
      await closeAll(clients.splice(0));
      await nodes.stop(b);
      const r = await api.delete(`/mqtt/retainer/message/${encodeURIComponent(`${base}/later`)}`);
      assert.equal(r.status, 204, r.text);
      await nodes.stop(a);
      a = await nodes.start("a", pa);
      await waitLog(a, "Cluster: restored ");
      // B still holds the message on its disc; it learns of the clear from A at link up.
      b = await nodes.start("b", pb);
      await waitUp(a, [b.name]);
      await waitUp(b, [a.name]);
      await nodes.awaitTopics(b, [`${base}/keep`]);
      await nodes.awaitTopics(a, [`${base}/keep`]);
    });

    await t.step(
      "on disc too, a link up sends the retained set; the newer write wins",
      async () => {
        await nodes.stop(b);
        // While B is down A overwrites `keep` (B keeps the older one on its disc) and adds `fresh`.
        const pubA = await connect(a.url, { protocolVersion: 5, clientId: `ra29c3-${tag}` });
        clients.push(pubA);
        await publish(pubA, `${base}/keep`, "v2", { qos: 1, retain: true });
        await publish(pubA, `${base}/fresh`, "f", { qos: 1, retain: true });
        b = await nodes.start("b", pb);
        await waitUp(a, [b.name]);
        await waitUp(b, [a.name]);
        // A marker written on B after its set went out: once A has it, A has weighed B's set
        // (one shard, one link: in order).
        await waitLog(b, `retained messages and`);
        const pubB = await connect(b.url, { protocolVersion: 5, clientId: `rb29c3-${tag}` });
        clients.push(pubB);
        await publish(pubB, `${base}/mark`, "m", { qos: 1, retain: true });
        const want = [`${base}/fresh`, `${base}/keep`, `${base}/mark`];
        await nodes.awaitTopics(a, want);
        await nodes.awaitTopics(b, want);
        for (const n of [a, b]) {
          const c = await connect(n.url, { protocolVersion: 5, clientId: `rr${n.name[0]}-${tag}` });
          clients.push(c);
          await subscribe(c, `${base}/keep`, { qos: 1 });
          const [m] = await collect(c, 1, 5_000);
          assert.deepEqual(
            [m?.payload, m?.packet.retain],
            ["v2", true],
            `${n.name}: the newer write`,
          );
        }
      },
    );
  } finally {
    await closeAll(clients);
    await nodes.close();
  }
});
