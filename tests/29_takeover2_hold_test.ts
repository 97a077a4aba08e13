/**
 * Suite 29 (two-phase takeover, unit level): the new node's side of TAKEOVER_END
 * (src/shard/_session_move.ts finishMove) on a real Session. What reaches the moved session
 * before the old node's pendings is held; the pendings go out first, then what was held, less the
 * held copies of pendings (the same message forwarded to both nodes while the routes changed);
 * the hold is bounded by the session's queue bound; no answer (the old node timed out or died)
 * releases what was held.
 */

import assert from "node:assert/strict";
import type { MqttConfig } from "../src/config/types.ts";
import { encodeBase64 } from "../src/bytes.ts";
import { encodeMessage, type Message } from "../src/mqtt/mod.ts";
import type { Delivery } from "../src/shard/delivery.ts";
import { Session, type SessionOutput } from "../src/shard/session.ts";
import { finishMove } from "../src/shard/_session_move.ts";

const mqtt = {
  maxInflight: 100,
  maxMqueueLen: 4,
  mqueueDropPolicy: "drop_oldest",
  mqueueStoreQos0: true,
} as MqttConfig;

function message(name: string, timestamp: number, origin = "p"): Message {
  return {
    topic: "t",
    payload: new TextEncoder().encode(name),
    qos: 1,
    retain: false,
    properties: {},
    origin,
    expiresAt: 0,
    timestamp,
  };
}

function delivery(m: Message): Delivery {
  return { message: m, qos: 1, retain: false, subscriptionIds: [] };
}

/** TAKEOVER_PENDINGS' body, as the old node sends it. */
function pendings(ms: Message[]): string {
  return JSON.stringify({
    deliveries: ms.map((m) => ({
      m: encodeBase64(encodeMessage(m)),
      qos: 1,
      retain: false,
      ids: [],
    })),
  });
}

function connected(): { session: Session; sent: string[] } {
  const sent: string[] = [];
  const out: SessionOutput = {
    sendPublish(_id, d) {
      sent.push(new TextDecoder().decode(d.message.payload));
      return true;
    },
    sendPubrel() {},
  };
  const session = new Session("c", mqtt, 60_000);
  session.attach(out, 100);
  return { session, sent };
}

Deno.test("29 takeover2: pendings go out before what was held, held copies dropped", () => {
  const { session, sent } = connected();
  session.hold();
  const p2 = message("p2", 2);
  session.deliver(delivery(p2), 0); // reached both nodes: a copy of a pending
  session.deliver(delivery(message("n1", 3)), 0);
  assert.deepEqual(sent, [], "held while waiting for the pendings");
  const n = finishMove(session, pendings([message("p1", 1), p2]), 0);
  assert.equal(n, 2);
  assert.deepEqual(sent, ["p1", "p2", "n1"], "pendings, then the held ones, once each");
  session.deliver(delivery(message("n2", 4)), 0);
  assert.deepEqual(sent, ["p1", "p2", "n1", "n2"], "no hold after END");
});

Deno.test("29 takeover2: two identical pendings drop only as many held copies", () => {
  const { session, sent } = connected();
  session.hold();
  const same = message("s", 5);
  session.deliver(delivery(same), 0);
  session.deliver(delivery({ ...same, origin: "other" }), 0); // another publisher: kept
  finishMove(session, pendings([same, same]), 0);
  assert.deepEqual(sent, ["s", "s", "s"]);
});

Deno.test("29 takeover2: no answer releases what was held; the hold is bounded", () => {
  const { session, sent } = connected();
  session.hold();
  for (let i = 0; i < 6; i++) session.deliver(delivery(message(`h${i}`, i)), 0);
  // The queue bound (4) held the first four; the rest went out at once.
  assert.deepEqual(sent, ["h4", "h5"]);
  assert.equal(finishMove(session, null, 0), 0);
  assert.deepEqual(sent, ["h4", "h5", "h0", "h1", "h2", "h3"]);
});
