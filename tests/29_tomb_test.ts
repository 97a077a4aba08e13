/**
 * Integration suite 29 (tomb, issue 15), two real Culex nodes by static seeds, retained messages
 * on disc, real clients (npm:mqtt), the real HTTP API:
 * - a retained delete through `DELETE /mqtt/retainer/message/{topic}` is answered (204) only
 *   after its tombstone is fsynced in `<node.data_dir>/cluster_retain_clears.json`: a `kill -9`
 *   of the deleting node right after the 204 does not let the message come back from a peer that
 *   was down during the delete [MQTT-3.3.1-6, MQTT-3.3.1-7 for what a clear means];
 * - one client's operations (`GET /clients/{clientid}`) do not wait for a node whose link is
 *   down: with `cluster.request_timeout = 60s`, a 404 on A after B was killed comes within the
 *   test's own bound of 15 s (no timed assertion: the bound only keeps a wrong broker from
 *   hanging the test).
 */

import type { MqttClient } from "mqtt";
import assert from "node:assert/strict";
import { join } from "node:path";
import { closeAll, connect, publish, runTag } from "./_helpers/clients.ts";
import { freePorts, waitLog, waitUp } from "./_helpers/cluster.ts";
import { Api, type ApiAnswer } from "./_helpers/api.ts";
import { DiscRetainNodes } from "./_helpers/disc_retain_nodes.ts";

/** `p`, or a rejection once `ms` have passed (a bound on the test, not a timing assertion). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test(
  { name: "29 tomb: API clears fsynced before the 204; down nodes not waited for" },
  async (t) => {
    const tag = runTag();
    const [pa, pb] = freePorts(2) as [number, number];
    const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
    const base = `tomb/${tag}`;
    // A silent node would be waited for this long: a fast 404 cannot come from waiting.
    const nodes = new DiscRetainNodes("culex_29tomb_", seeds, base, [
      "cluster.request_timeout=60s",
    ]);
    const clients: MqttClient[] = [];
    try {
      let a = await nodes.start("a", pa);
      let b = await nodes.start("b", pb);
      await waitUp(a, [b.name]);
      await waitUp(b, [a.name]);
      let api = new Api(a.broker.portOf("http:dashboard"));
      await api.asAdmin();
      const gone = `${base}/gone`;

      await t.step("kill -9 right after a DELETE's 204 keeps the tombstone", async () => {
        const pub = await connect(a.url, { protocolVersion: 5, clientId: `tp-${tag}` });
        clients.push(pub);
        await publish(pub, gone, "old", { qos: 1, retain: true });
        await nodes.awaitTopics(b, [gone]);
        await closeAll(clients.splice(0));
        // B keeps the message on its disc while A deletes it: only A's tombstone can refuse it.
        await nodes.stop(b);
        const r = await api.delete(`/mqtt/retainer/message/${encodeURIComponent(gone)}`);
        assert.equal(r.status, 204, r.text);
        await nodes.kill(a);
        const file = JSON.parse(
          await Deno.readTextFile(join(nodes.dir("a"), "cluster_retain_clears.json")),
        ) as { clears: [string, number, number][] };
        assert.deepEqual(file.clears.map((c) => c[0]), [gone], "the tombstone on disc");

        a = await nodes.start("a", pa);
        await waitLog(a, "Cluster: restored 1 retained clears from disc");
        b = await nodes.start("b", pb);
        await waitUp(a, [b.name]);
        await waitUp(b, [a.name]);
        // B's set (with its old copy) went to A; a marker written on B after it reaches A after
        // it (one shard, one link: in order), so then A has weighed the old copy.
        await waitLog(b, `retained messages and`);
        const pubB = await connect(b.url, { protocolVersion: 5, clientId: `tb-${tag}` });
        clients.push(pubB);
        await publish(pubB, `${base}/mark`, "m", { qos: 1, retain: true });
        await nodes.awaitTopics(a, [`${base}/mark`]);
        await nodes.awaitTopics(b, [`${base}/mark`]);
      });

      await t.step("a 404 does not wait for a killed node (request_timeout 60 s)", async () => {
        // A restarted on its data_dir: the admin password changed above is kept.
        api = new Api(a.broker.portOf("http:dashboard"));
        api.defaultAs = { token: await api.login("admin", "Culex-test-1") };
        const onB = await connect(b.url, { protocolVersion: 5, clientId: `tc-${tag}` });
        clients.push(onB);
        // Asked over the link while B runs: A has no such client, B answers.
        const found = await within(api.get(`/clients/tc-${tag}`), 15_000, "GET (B up)");
        assert.equal(found.status, 200, found.text);
        await closeAll(clients.splice(0));
        await nodes.kill(b);
        // Right after the kill (the link may not be down yet: a pending request fails when it
        // goes), then once A has seen the link go.
        const asked: ApiAnswer[] = [];
        asked.push(await within(api.get(`/clients/tc-${tag}`), 15_000, "GET (B killed)"));
        await waitLog(a, `node ${b.name} is down`);
        asked.push(await within(api.get(`/clients/tc-${tag}`), 15_000, "GET (B down)"));
        for (const r of asked) {
          assert.equal(r.status, 404, r.text);
          assert.equal((r.json as { code?: string }).code, "CLIENTID_NOT_FOUND");
        }
      });
    } finally {
      await closeAll(clients);
      await nodes.close();
    }
  },
);
