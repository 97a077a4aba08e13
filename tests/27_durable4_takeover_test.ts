/**
 * Integration suite 27 (durable4, issues 13 and 15): the inflight entries that a cross-node
 * takeover moves into a durable session are in the new node's store before its CONNACK, so a
 * kill -9 of the new node after that CONNACK and before the client acknowledged anything loses
 * none of them. On node A a real client (npm:mqtt) is cut off mid-flow by a proxy that stops
 * passing the broker's packets: a QoS 2 message waits for PUBCOMP (its PUBREL was lost), a QoS 1
 * and a QoS 2 message wait for PUBACK and PUBREC (their PUBLISHes were lost). The client then
 * resumes on node B (`clean_start = false`) without acknowledging anything (a raw connection that
 * only reads), B resends the three, and B is killed with -9. After B's restart on the same store
 * the client (its npm:mqtt packet stores kept across its instances) reconnects to B and gets:
 * the PUBREL again with the same packet id, so the first QoS 2 message is delivered once
 * [MQTT-4.4.0-1, MQTT-4.3.3]; the QoS 2 PUBLISH with the same id and DUP, delivered once; the
 * QoS 1 PUBLISH again (at least once [MQTT-4.3.2]). Then a later message comes with no
 * duplicate before it.
 */

import mqtt, { type MqttClient, Store } from "mqtt";
import mqttPacket, { type Packet } from "mqtt-packet";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerKind } from "./_helpers/broker.ts";
import { closeAll, connect, destroy, publish, runTag } from "./_helpers/clients.ts";
import { addNode, type ClusterNode, freePorts, startNode, waitUp } from "./_helpers/cluster.ts";
import { type MuteProxy, startMuteProxy } from "./_helpers/mute_proxy.ts";

const PUBLISH = 3, PUBREL = 6;

/** Waits (bounded) until `pred` holds. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(pred(), what);
}

/**
 * Resumes the session of `clientId` on `port` over a raw socket that never acknowledges
 * anything (the client's acks are lost), and returns the packets the broker sent.
 */
async function resumeWithoutAcks(
  port: number,
  clientId: string,
  enough: (got: Packet[]) => boolean,
): Promise<{ got: Packet[]; conn: Deno.TcpConn }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const got: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on("packet", (p: Packet) => got.push(p));
  void (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        parser.parse(Buffer.from(buf.subarray(0, n)));
      }
    } catch { /* closed */ }
  })();
  const connect = mqttPacket.generate({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: false,
    clientId,
    keepalive: 60,
    properties: { sessionExpiryInterval: 300 },
  });
  await conn.write(connect);
  await until(() => enough(got), `B resent the inflight: ${got.map((p) => p.cmd).join(", ")}`);
  return { got, conn };
}

Deno.test({
  name: "27 durable4: inflight moved by a takeover survives a kill -9 of the new node",
  ignore: brokerKind() !== "culex",
  async fn() {
    const tag = runTag();
    const sets = ["durable_sessions.enable=true"];
    const [pa, pb, mqttB] = freePorts(3) as [number, number, number];
    const seeds = [`a@127.0.0.1:${pa}`, `b@127.0.0.1:${pb}`];
    const dirB = await Deno.makeTempDir({ prefix: "culex_test_27d4_" });
    const startB = () =>
      startNode({
        short: "b",
        clusterPort: pb,
        seeds,
        dataDir: dirB,
        sets: [...sets, `listeners.tcp.default.bind=127.0.0.1:${mqttB}`],
      });
    const nodes: ClusterNode[] = [];
    let b: ClusterNode | null = null;
    const clients: MqttClient[] = [];
    const proxies: MuteProxy[] = [];
    let raw: Deno.TcpConn | null = null;
    const session = {
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      reconnectPeriod: 0,
    };
    try {
      const a = await addNode(nodes, { short: "a", clusterPort: pa, seeds, sets });
      b = await startB();
      await waitUp(a, [b.name]);
      await waitUp(b, [a.name]);
      const port = (n: ClusterNode) => Number(new URL(n.url).port);
      const topic = `d4/${tag}/t`;
      const id = `s27d4-${tag}`;
      const incomingStore = new Store({ clean: false });
      const outgoingStore = new Store({ clean: false });

      // On A: m0 (QoS 2) reaches its PUBREL, which is lost; m1 (QoS 1) and m2 (QoS 2) are sent
      // and lost. A holds all three inflight.
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
      await s1.subscribeAsync(topic, { qos: 2 });
      const pub = await connect(a.url, { protocolVersion: 5, clientId: `p27d4-${tag}` });
      clients.push(pub);
      s1.on("packetsend", (p: Packet) => {
        if (p.cmd === "pubrec") proxy.mute();
      });
      await publish(pub, topic, "m0", { qos: 2 });
      await until(() => proxy.dropped.includes(PUBREL), "A sent m0's PUBREL after the PUBREC");
      await publish(pub, topic, "m1", { qos: 1 });
      await publish(pub, topic, "m2", { qos: 2 });
      await until(
        () => proxy.dropped.filter((t) => t === PUBLISH).length >= 2,
        "A sent m1 and m2",
      );
      await destroy(s1);
      proxy.close();

      // On B, without acknowledging: the session moves there, B resends the three; B dies.
      const resumed = await resumeWithoutAcks(
        mqttB,
        id,
        (got) =>
          got.some((p) => p.cmd === "pubrel") &&
          got.filter((p) => p.cmd === "publish").length >= 2,
      );
      raw = resumed.conn;
      const connack = resumed.got.find((p) => p.cmd === "connack");
      assert.equal(connack && "sessionPresent" in connack && connack.sessionPresent, true);
      const resent = resumed.got.filter((p) => p.cmd === "publish" || p.cmd === "pubrel");
      b.broker.kill();
      await b.broker.stop();
      b = null;
      try {
        raw.close();
      } catch { /* closed by the kill */ }
      raw = null;

      // B back on its store; the client resumes there with its own packet stores.
      b = await startB();
      await waitUp(b, [a.name]);
      await waitUp(a, [b.name], 20_000, 2); // A saw B come back: routes flow again
      const got: string[] = [];
      const s2 = mqtt.connect(b.url, {
        protocolVersion: 5,
        clientId: id,
        ...session,
        incomingStore,
        outgoingStore,
      });
      clients.push(s2);
      const after: Packet[] = [];
      s2.on("packetreceive", (p: Packet) => after.push(p));
      s2.on("message", (t, payload) => {
        if (t === topic) got.push(new TextDecoder().decode(payload));
      });
      await until(() => s2.connected, "the client reconnected to B");
      const connack2 = after.find((p) => p.cmd === "connack");
      assert.equal(
        connack2 && "sessionPresent" in connack2 && connack2.sessionPresent,
        true,
        "B kept the session across its crash",
      );
      await until(
        () => ["m0", "m1", "m2"].every((m) => got.includes(m)),
        `the moved inflight came back after B's crash: ${JSON.stringify(got)}`,
      );
      // The same packet ids as before the crash: PUBREL for m0, PUBLISH with DUP for m1, m2.
      for (const p of resent) {
        const again = after.find((q) => q.cmd === p.cmd && q.messageId === p.messageId);
        assert.ok(again, `${p.cmd} ${p.messageId} resent after the restart`);
        if (again.cmd === "publish") assert.equal(again.dup, true, "DUP on the resent PUBLISH");
      }
      // Nothing comes twice before a later message (QoS 2 exactly once).
      // The route to B is back once a probe from A arrives (bounded).
      for (let i = 0; i < 100 && !got.includes("probe"); i++) {
        await publish(pub, topic, "probe", { qos: 0 });
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(got.includes("probe"), "the route to B is back");
      await publish(pub, topic, "m3", { qos: 2 });
      await until(() => got.includes("m3"), "m3 arrives");
      const real = got.filter((m) => m !== "probe");
      assert.equal(real.filter((m) => m === "m0").length, 1, `m0 once: ${real}`);
      assert.equal(real.filter((m) => m === "m2").length, 1, `m2 once: ${real}`);
      assert.ok(real.includes("m1"), "m1 at least once");
    } finally {
      try {
        raw?.close();
      } catch { /* closed */ }
      await closeAll(clients);
      for (const p of proxies) p.close();
      if (b) await b.broker.stop();
      for (const n of nodes) await n.broker.stop();
      await Deno.remove(dirB, { recursive: true }).catch(() => {});
    }
  },
});
