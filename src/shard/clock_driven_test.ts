// Time-driven behaviour on a ManualClock, with a shard's real parts (TestShard): keepalive and
// its caps, will delay, session expiry and delayed publish happen when the clock says so, not
// when a test has slept long enough (issue #11, "one clock").
import assert from "node:assert/strict";
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from "mqtt-packet";
import { Buffer } from "node:buffer";
import { connectOf, TestShard } from "./_test_harness.ts";
import { agreedKeepalive } from "./handlers/connect.ts";

const connack = (p: unknown) => p as IConnackPacket;

Deno.test("agreedKeepalive() caps long and zero keepalives, keeps shorter ones, and lets Server Keep Alive win", () => {
  assert.equal(agreedKeepalive(60, false, 0, 0), 60); // no cap
  assert.equal(agreedKeepalive(0, true, 0, 0), 0);
  assert.equal(agreedKeepalive(600, true, 0, 120), 120); // longer → capped
  assert.equal(agreedKeepalive(0, false, 0, 120), 120); // none → capped
  assert.equal(agreedKeepalive(30, false, 0, 120), 30); // shorter → honoured
  assert.equal(agreedKeepalive(30, true, 90, 0), 90); // server_keepalive overrides (5.0)
  assert.equal(agreedKeepalive(30, false, 90, 0), 30); // ... only for 5.0
  assert.equal(agreedKeepalive(30, true, 300, 120), 120); // and is capped too
});

for (const v of [4, 5] as const) {
  Deno.test(`keepalive (v${v}): the client is disconnected after 1.5 × keepalive of silence, not before [MQTT-3.1.2-24]`, () => {
    const shard = new TestShard();
    const c = shard.open(v);
    c.send(connectOf("k1", v, { keepalive: 10 }));
    shard.tick(14_000);
    assert.equal(c.closed, false);
    c.send({ cmd: "pingreq" });
    shard.tick(14_000); // 14 s since the PINGREQ
    assert.equal(c.closed, false);
    shard.tick(2_000); // 16 s > 15 s
    assert.equal(c.closed, true);
    if (v === 5) {
      const d = c.received.at(-1) as IDisconnectPacket;
      assert.equal(d.cmd, "disconnect");
      assert.equal(d.reasonCode, 0x8d); // Keep Alive timeout
    }
  });

  Deno.test(`mqtt.max_keepalive (v${v}): a client asking for more${v === 4 ? " or for none" : ""} is held to the cap${v === 5 ? " and told so in Server Keep Alive" : ""}`, () => {
    const shard = new TestShard(["mqtt.max_keepalive=20"]);
    const c = shard.open(v);
    c.send(connectOf("k2", v, { keepalive: v === 4 ? 0 : 600 }));
    const ack = connack(c.received[0]);
    assert.equal(ack.cmd, "connack");
    if (v === 5) assert.equal(ack.properties?.serverKeepAlive, 20);
    shard.tick(29_000);
    assert.equal(c.closed, false);
    shard.tick(2_000); // 31 s > 1.5 × 20 s
    assert.equal(c.closed, true);
    // A shorter keepalive is honoured, and a 5.0 client gets no Server Keep Alive for it.
    const d = shard.open(v);
    d.send(connectOf("k3", v, { keepalive: 5 }));
    assert.equal(connack(d.received[0]).properties?.serverKeepAlive, undefined);
    shard.tick(8_000);
    assert.equal(d.closed, true);
  });
}

/**
 * A watcher subscribed to w/#, and a client that connected with a will on w/<id> (delay and
 * session expiry in seconds) and lost its connection; returns the wills the watcher got so far.
 */
function droppedWithWill(id: string, willDelay: number, sessionExpiry: number) {
  const shard = new TestShard();
  const watcher = shard.open(5);
  watcher.send(connectOf("watch", 5));
  watcher.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "w/#", qos: 0 }] });
  const c = shard.open(5);
  c.send(connectOf(id, 5, {
    properties: { sessionExpiryInterval: sessionExpiry },
    will: {
      topic: `w/${id}`,
      payload: new TextEncoder().encode("bye"),
      qos: 0,
      retain: false,
      properties: { willDelayInterval: willDelay },
    },
  }));
  c.channel.socketClosed("reset");
  const wills = () =>
    (watcher.received.filter((p) => p.cmd === "publish") as IPublishPacket[]).map((p) => p.topic);
  return { shard, wills };
}

Deno.test("will delay (v5): the will goes out when the delay ends, not at the disconnect [MQTT-3.1.3-9]", () => {
  const { shard, wills } = droppedWithWill("dying", 30, 3600);
  shard.tick(29_000);
  assert.deepEqual(wills(), []);
  shard.tick(2_000);
  assert.deepEqual(wills(), ["w/dying"]);
});

Deno.test("will delay (v5): the will goes out when the session ends, by its own timer, not at the next tick [MQTT-3.1.3-9]", () => {
  const { shard, wills } = droppedWithWill("brief", 30, 1);
  // Only the clock moves (no tick): the session's end at 1 s, before the 30 s delay, sends it.
  shard.clock.advance(999);
  assert.deepEqual(wills(), []);
  shard.clock.advance(1);
  assert.deepEqual(wills(), ["w/brief"]);
});

Deno.test("session expiry (v5): a reconnect just after the interval ended finds no session, before any tick ended it (MQTT 5.0 3.1.2.11.2)", () => {
  const shard = new TestShard();
  const open = () => {
    const c = shard.open(5);
    c.send(connectOf("s2", 5, { clean: false, properties: { sessionExpiryInterval: 2 } }));
    return c;
  };
  open().channel.socketClosed("reset");
  shard.clock.advance(2_000); // no tick: only a reconnect looks at the session now
  assert.equal(connack(open().received[0]).sessionPresent, false);
});

Deno.test("session expiry (v5): a disconnected session ends when its interval ends; a reconnect before resumes it", () => {
  const shard = new TestShard();
  const open = (clientId: string) => {
    const c = shard.open(5);
    c.send(connectOf(clientId, 5, { clean: false, properties: { sessionExpiryInterval: 60 } }));
    return c;
  };
  open("s1").channel.socketClosed("reset");
  shard.tick(59_000);
  assert.equal(connack(open("s1").received[0]).sessionPresent, true);
  shard.svc.registry.channelOf("s1")?.socketClosed("reset");
  shard.tick(61_000);
  assert.equal(shard.svc.registry.get("s1"), undefined);
  assert.equal(connack(open("s1").received[0]).sessionPresent, false);
});

Deno.test("delayed publish: $delayed/10/t is delivered to t when the clock reaches 10 s, not before", () => {
  const shard = new TestShard();
  const sub = shard.open(5);
  sub.send(connectOf("sub", 5));
  sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "t", qos: 1 }] });
  const pub = shard.open(5);
  pub.send(connectOf("pub", 5));
  pub.send({
    cmd: "publish",
    topic: "$delayed/10/t",
    payload: Buffer.from([1]),
    qos: 1,
    messageId: 5,
    retain: false,
    dup: false,
  });
  assert.equal((pub.received.at(-1) as { reasonCode?: number }).reasonCode, 0); // PUBACK 0x00
  const got = () => sub.received.filter((p) => p.cmd === "publish").length;
  shard.clock.advance(9_999);
  assert.equal(got(), 0);
  shard.clock.advance(1);
  assert.equal(got(), 1);
});
