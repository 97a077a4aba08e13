import assert from "node:assert/strict";
import type { MqttConfig } from "../config/types.ts";
import type { Message } from "../mqtt/mod.ts";
import type { Delivery } from "./delivery.ts";
import { MQueue } from "./mqueue.ts";
import { Session, type SessionOutput } from "./session.ts";

const mqtt = {
  maxInflight: 2,
  maxMqueueLen: 3,
  mqueueDropPolicy: "drop_oldest",
  mqueueStoreQos0: true,
} as MqttConfig;

function delivery(n: number, qos: 0 | 1 | 2 = 1, expiresAt = 0): Delivery {
  const message: Message = {
    topic: `t/${n}`,
    payload: new TextEncoder().encode(String(n)),
    qos,
    retain: false,
    properties: {},
    origin: "p",
    expiresAt,
    timestamp: 0,
  };
  return { message, qos, retain: false, subscriptionIds: [] };
}

function recorder(): SessionOutput & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    sendPublish(id, d, dup) {
      sent.push(`${d.message.topic}#${id}${dup ? "d" : ""}`);
      return true;
    },
    sendPubrel(id) {
      sent.push(`rel#${id}`);
    },
  };
}

Deno.test("MQueue.enqueue() drops the oldest when full under drop_oldest", () => {
  const q = new MQueue({ maxLen: 2, dropPolicy: "drop_oldest", storeQos0: true });
  q.enqueue(delivery(1));
  q.enqueue(delivery(2));
  const r = q.enqueue(delivery(3));
  assert.equal(r.dropped?.message.topic, "t/1");
  assert.equal(q.dequeue()?.message.topic, "t/2");
  assert.equal(q.dequeue()?.message.topic, "t/3");
  assert.equal(q.dequeue(), undefined);
});

Deno.test("MQueue.enqueue() refuses the newest when full under drop_newest", () => {
  const q = new MQueue({ maxLen: 1, dropPolicy: "drop_newest", storeQos0: true });
  q.enqueue(delivery(1));
  const r = q.enqueue(delivery(2));
  assert.equal(r.queued, false);
  assert.equal(r.dropped?.message.topic, "t/2");
  assert.equal(q.length, 1);
});

Deno.test("MQueue.enqueue() refuses QoS 0 when store_qos0 is off", () => {
  const q = new MQueue({ maxLen: 5, dropPolicy: "drop_oldest", storeQos0: false });
  const r = q.enqueue(delivery(1, 0));
  assert.equal(r.queued, false);
  assert.equal(q.length, 0);
});

Deno.test("Session.deliver() fills the window, queues the rest, and pumps on ack", () => {
  const s = new Session("c", mqtt, 0);
  const out = recorder();
  s.attach(out, 65535);
  for (let i = 1; i <= 4; i++) s.deliver(delivery(i), 0);
  assert.deepEqual(out.sent, ["t/1#1", "t/2#2"]);
  assert.equal(s.queueLength, 2);
  assert.equal(s.complete(1, 0)?.message.topic, "t/1");
  assert.deepEqual(out.sent, ["t/1#1", "t/2#2", "t/3#3"]);
  assert.equal(s.complete(99, 0), undefined);
});

Deno.test("Session.resume() resends inflight with DUP and pending PUBREL in order", () => {
  const s = new Session("c", mqtt, 1000);
  const first = recorder();
  s.attach(first, 65535);
  s.deliver(delivery(1, 2), 0);
  s.deliver(delivery(2, 1), 0);
  s.received(1, false, 0);
  s.detach(0);
  s.deliver(delivery(3, 1), 0); // queued while offline
  const second = recorder();
  s.attach(second, 65535);
  s.resume(0);
  assert.deepEqual(second.sent, ["rel#1", "t/2#2d"]);
  s.complete(2, 0);
  assert.deepEqual(second.sent, ["rel#1", "t/2#2d", "t/3#3"]);
});

Deno.test("Session.deliver() drops expired messages instead of sending them", () => {
  const s = new Session("c", mqtt, 0);
  const out = recorder();
  const dropped: string[] = [];
  s.onDrop = (d, reason) => dropped.push(`${d.message.topic}:${reason}`);
  s.attach(out, 65535);
  s.deliver(delivery(1, 1, 5), 10);
  assert.deepEqual(out.sent, []);
  assert.deepEqual(dropped, ["t/1:expired"]);
});

Deno.test("Session.attach() narrows the window to the client's Receive Maximum", () => {
  const s = new Session("c", { ...mqtt, maxInflight: 10 }, 0);
  const out = recorder();
  s.attach(out, 1);
  s.deliver(delivery(1), 0);
  s.deliver(delivery(2), 0);
  assert.deepEqual(out.sent, ["t/1#1"]);
});

Deno.test("Session.setCongested() holds deliveries in the queue until relief", () => {
  const s = new Session("c", { ...mqtt, maxMqueueLen: 10 }, 0);
  const out = recorder();
  s.attach(out, 65535);
  s.setCongested(true, 0);
  s.deliver(delivery(1, 0), 0);
  s.deliver(delivery(2, 1), 0);
  assert.deepEqual(out.sent, []);
  assert.equal(s.queueLength, 2);
  s.setCongested(false, 0);
  assert.deepEqual(out.sent, ["t/1#0", "t/2#1"]);
});

Deno.test("Session.backlogged: on while congested or the queue is half full; whenUnblocked runs once it clears", () => {
  const s = new Session("c", mqtt, 0);
  const out = recorder();
  s.attach(out, 10);
  assert.equal(s.backlogged, false);
  let resumed = 0;
  s.whenUnblocked(() => resumed++); // not backlogged: at once
  assert.equal(resumed, 1);
  s.setCongested(true, 0);
  assert.equal(s.backlogged, true);
  s.whenUnblocked(() => resumed++);
  s.deliver(delivery(1, 0), 0); // queued while congested
  s.deliver(delivery(2, 0), 0);
  assert.equal(resumed, 1);
  s.setCongested(false, 0); // the queue drains, then the waiter runs
  assert.deepEqual(out.sent, ["t/1#0", "t/2#0"]);
  assert.equal(resumed, 2);
  // Offline: never backlogged (the queue's own policy applies).
  s.detach(0);
  assert.equal(s.backlogged, false);
});
