/**
 * Unit tests of keeping messages (src/shard/_keep.ts) and of the stores that use it: Retainer,
 * MQueue and DelayedPublish keep a copy of just the payload (and correlation data) of a message
 * decoded from a larger buffer, and nothing is copied when the message owns its bytes. The
 * delivery that goes out at once (Session.deliver with a free window) shares the message.
 */

import { ManualClock } from "./clock.ts";
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { DelayedConfig, MqttConfig, RetainerConfig } from "../config/types.ts";
import { createCounts, SharedCounts } from "../ipc/mod.ts";
import type { Message } from "../mqtt/mod.ts";
import { DelayedPublish } from "./delayed.ts";
import type { Delivery } from "./delivery.ts";
import { MQueue } from "./mqueue.ts";
import { Retainer } from "./retainer.ts";
import { Session } from "./session.ts";
import { keepMessage } from "./_keep.ts";

/** A message whose payload (and correlation data) are views into one 64 KiB "socket read". */
function fromRead(n: number, withCd = false): Message {
  const read = new Uint8Array(65536).fill(n & 0xff);
  const payload = read.subarray(1000, 1010);
  return {
    topic: `t/${n}`,
    payload,
    qos: 1,
    retain: true,
    properties: withCd ? { correlationData: read.subarray(2000, 2004) } : {},
    origin: "p",
    expiresAt: 0,
    timestamp: 0,
  };
}

function owning(n: number): Message {
  return { ...fromRead(n), payload: new Uint8Array(10).fill(n) };
}

const counts = () => new SharedCounts(createCounts(1), 1, 0);
const delivery = (message: Message): Delivery => ({
  message,
  qos: 1,
  retain: false,
  subscriptionIds: [],
});

Deno.test("keepMessage() copies views that pin a larger buffer, and only those", () => {
  const m = fromRead(1, true);
  const kept = keepMessage(m);
  notStrictEqual(kept, m);
  strictEqual(kept.payload.buffer.byteLength, 10);
  strictEqual(kept.properties.correlationData?.buffer.byteLength, 4);
  deepStrictEqual([...kept.payload], [...m.payload]);
  deepStrictEqual(
    { ...kept, payload: null, properties: null },
    { ...m, payload: null, properties: null },
  );
  // A message that owns its bytes, or a view into a record that is mostly itself, is kept as is.
  const own = owning(2);
  strictEqual(keepMessage(own), own);
  const record = new Uint8Array(5000);
  const routed = { ...own, payload: record.subarray(100, 4500) };
  strictEqual(keepMessage(routed), routed);
  // The same message queued for many sessions is copied once.
  strictEqual(keepMessage(m), kept);
});

Deno.test("Retainer stores a copy of just the payload of a message from a socket read", () => {
  const r = new Retainer(
    { enable: true, maxRetainedMessages: 0, maxPayloadSize: 1 << 20 } as RetainerConfig,
    counts(),
  );
  const m = fromRead(3);
  strictEqual(r.store(m), "stored");
  const [stored] = r.query("t/3", 0);
  strictEqual(stored!.payload.buffer.byteLength, 10);
  deepStrictEqual([...stored!.payload], new Array(10).fill(3));
  const own = owning(4);
  r.store(own);
  strictEqual(r.query("t/4", 0)[0], own, "an owning message is stored by reference");
});

Deno.test("MQueue keeps copies; a delivery sent at once shares the message", () => {
  const q = new MQueue({ maxLen: 10, dropPolicy: "drop_oldest", storeQos0: true });
  const m = fromRead(5);
  q.enqueue(delivery(m));
  strictEqual(q.dequeue()!.message.payload.buffer.byteLength, 10);
  const own = delivery(owning(6));
  q.enqueue(own);
  strictEqual(q.dequeue(), own);

  const mqtt = { maxInflight: 1, maxMqueueLen: 5, mqueueDropPolicy: "drop_oldest" } as MqttConfig;
  const session = new Session("c", mqtt, 0);
  const sent: Delivery[] = [];
  session.attach({ sendPublish: (_id, d) => sent.push(d) > 0, sendPubrel: () => {} }, 10);
  const first = fromRead(7);
  const second = fromRead(8);
  session.deliver(delivery(first), 0); // window free: out at once, no copy
  session.deliver(delivery(second), 0); // window full: queued, copied
  strictEqual(sent[0]!.message, first);
  session.complete(1, 0);
  notStrictEqual(sent[1]!.message, second);
  strictEqual(sent[1]!.message.payload.buffer.byteLength, 10);
});

Deno.test("DelayedPublish holds a copy of just the payload until it is due", () => {
  const published: Message[] = [];
  const d = new DelayedPublish(
    { enable: true, maxDelayedMessages: 0, maxDelayInterval: 60_000 } as DelayedConfig,
    counts(),
    new ManualClock(0),
    (m) => published.push(m),
  );
  d.schedule(fromRead(9), 1000, 0);
  d.runDue(1000);
  d.stop();
  strictEqual(published.length, 1);
  strictEqual(published[0]!.payload.buffer.byteLength, 10);
  ok(published[0]!.payload.every((b) => b === 9));
});
