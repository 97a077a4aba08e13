/**
 * Integration suite 29 (cluster3, issue 15): QoS 2 exactly-once across a cross-node takeover.
 * A real client (npm:mqtt, its packet store kept across two client instances as a persistent
 * client keeps it across a restart) is cut off mid-flow on node A by a proxy that stops passing
 * the broker's packets to it, then reconnects to node B with `clean_start = false`:
 * - outbound: A sent PUBLISH, got PUBREC and sent PUBREL, which never arrived. B must resend
 *   PUBREL with the same packet id [MQTT-4.4.0-1]; the client (which delivers at PUBREL) then
 *   delivers the message once. Without the move the message is never delivered.
 * - inbound: the client's PUBLISH reached A (delivered to the subscriber) but A's PUBREC never
 *   arrived. The client resends the PUBLISH (DUP, same id) to B, which must answer PUBREC without
 *   delivering it again [MQTT-4.3.3-9 (no duplicate after PUBREC)], and PUBCOMP to its PUBREL
 *   [MQTT-4.3.3-11] with reason 0x00, not 0x92 "packet identifier not found".
 * Run twice: sessions in memory, and durable sessions (their rows and awaiting-PUBREL ids read
 * from the store on the old node, the ids written to the store on the new one).
 */

import mqtt, { type MqttClient, Store } from "mqtt";
import type { Packet } from "mqtt-packet";
import assert from "node:assert/strict";
import {
  closeAll,
  connackOf,
  connect,
  destroy,
  publish,
  runTag,
  subscribe,
} from "./_helpers/clients.ts";
import {
  addNode,
  awaitRoute,
  type ClusterNode,
  freePorts,
  takeReal,
  waitUp,
} from "./_helpers/cluster.ts";
import { type MuteProxy, startMuteProxy } from "./_helpers/mute_proxy.ts";

/** Waits (bounded) until `pred` holds. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(pred(), what);
}

const PUBREC = 5, PUBREL = 6;

for (const mode of ["memory", "durable"] as const) {
  Deno.test(
    { name: `29 cluster3: QoS 2 exactly-once across a cross-node takeover (${mode})` },
    (t) => qos2Move(t, mode),
  );
}

/** The two steps on two nodes whose sessions are in memory, or on disc (durable_sessions). */
async function qos2Move(t: Deno.TestContext, mode: "memory" | "durable"): Promise<void> {
  const tag = runTag();
  const sets = mode === "durable" ? ["durable_sessions.enable=true"] : [];
  const [pa, pb] = freePorts(2) as [number, number];
  const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const proxies: MuteProxy[] = [];
  const session = { clean: false, properties: { sessionExpiryInterval: 300 }, reconnectPeriod: 0 };
  try {
    const a = await addNode(nodes, { short: "a", clusterPort: pa, seeds, shards: 2, sets });
    const b = await addNode(nodes, { short: "b", clusterPort: pb, seeds, shards: 2, sets });
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);
    const port = (n: ClusterNode) => Number(new URL(n.url).port);

    await t.step("outbound: PUBREL cut off on A is resent by B; delivered once", async () => {
      const topic = `q2/${tag}/out`;
      const id = `s29q2-${tag}`;
      // The client's own packet stores, kept across its two instances (clean: false: closing
      // the first instance keeps them).
      const incomingStore = new Store({ clean: false });
      const outgoingStore = new Store({ clean: false });
      const proxy = startMuteProxy(port(a));
      proxies.push(proxy);
      const s1 = await connect(`mqtt://127.0.0.1:${proxy.port}`, {
        protocolVersion: 5,
        clientId: id,
        ...session,
        incomingStore,
        outgoingStore,
      });
      clients.push(s1);
      await subscribe(s1, topic, { qos: 2 });
      const pub = await connect(a.url, { protocolVersion: 5, clientId: `q29q2-${tag}` });
      clients.push(pub);
      s1.on("packetsend", (p: Packet) => {
        if (p.cmd === "pubrec") proxy.mute();
      });
      await publish(pub, topic, "m1", { qos: 2 });
      await until(() => proxy.dropped.includes(PUBREL), "A sent PUBREL after the PUBREC");
      await destroy(s1);
      proxy.close();

      const s2 = await connect(b.url, {
        protocolVersion: 5,
        clientId: id,
        ...session,
        incomingStore,
        outgoingStore,
      });
      clients.push(s2);
      assert.equal(connackOf(s2).sessionPresent, true, "the session moved from A");
      assert.deepEqual((await takeReal(s2, 1, 10_000)).map((m) => m.payload), ["m1"]);
      // Later messages still flow, and m1 does not come again before them (publisher order).
      await awaitRoute(pub, s2, topic);
      await publish(pub, topic, "m2", { qos: 2 });
      assert.deepEqual((await takeReal(s2, 1, 10_000)).map((m) => m.payload), ["m2"]);
    });

    await t.step(
      "inbound: a PUBLISH resent to B after A's lost PUBREC is not delivered again",
      async () => {
        const topic = `q2/${tag}/in`;
        const id = `p29q2-${tag}`;
        const sub = await connect(b.url, { protocolVersion: 5, clientId: `t29q2-${tag}` });
        clients.push(sub);
        await subscribe(sub, topic, { qos: 2 });
        const outgoingStore = new Store({ clean: false });
        const incomingStore = new Store({ clean: false });
        const proxy = startMuteProxy(port(a));
        proxies.push(proxy);
        const p1 = await connect(`mqtt://127.0.0.1:${proxy.port}`, {
          protocolVersion: 5,
          clientId: id,
          ...session,
          incomingStore,
          outgoingStore,
        });
        clients.push(p1);
        await awaitRoute(p1, sub, topic);
        let sentId = -1;
        p1.on("packetsend", (p: Packet) => {
          if (p.cmd === "publish" && p.qos === 2) {
            sentId = p.messageId ?? -1;
            proxy.mute();
          }
        });
        p1.publish(topic, "in1", { qos: 2 }, () => {});
        assert.deepEqual((await takeReal(sub, 1, 10_000)).map((m) => m.payload), ["in1"]);
        await until(() => proxy.dropped.includes(PUBREC), "A answered PUBREC");
        await destroy(p1);
        proxy.close();

        const comps: { id: number; code: number }[] = [];
        const seen: string[] = [];
        // Listening before the CONNACK: the resend starts right after it.
        const p2 = mqtt.connect(b.url, {
          protocolVersion: 5,
          clientId: id,
          ...session,
          incomingStore,
          outgoingStore,
        });
        clients.push(p2);
        let present: boolean | null = null;
        p2.on(
          "packetsend",
          (p: Packet) => seen.push(`> ${p.cmd} ${"messageId" in p ? p.messageId : ""}`),
        );
        p2.on("packetreceive", (p: Packet) => {
          seen.push(
            `< ${p.cmd} ${"messageId" in p ? p.messageId : ""} ${
              "reasonCode" in p ? p.reasonCode : ""
            }`,
          );
          if (p.cmd === "connack") present = p.sessionPresent;
          if (p.cmd === "pubcomp") comps.push({ id: p.messageId ?? -1, code: p.reasonCode ?? 0 });
        });
        await until(() => present !== null, "CONNACK from B");
        assert.equal(present, true, "the session moved from A");
        // npm:mqtt resends the stored PUBLISH on connect, then PUBREL after B's PUBREC.
        await until(
          () => comps.some((c) => c.id === sentId),
          `PUBCOMP for the resent PUBLISH ${sentId}: ${seen.join(", ")}`,
        );
        assert.deepEqual(comps.find((c) => c.id === sentId)?.code, 0, "the id was known on B");
        await publish(p2, topic, "in2", { qos: 2 });
        // A second in1 would arrive before in2 (one publisher's order).
        assert.deepEqual((await takeReal(sub, 1, 10_000)).map((m) => m.payload), ["in2"]);
      },
    );
  } finally {
    await closeAll(clients);
    for (const p of proxies) p.close();
    for (const n of nodes) await n.broker.stop();
  }
}
