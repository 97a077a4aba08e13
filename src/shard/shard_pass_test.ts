// The shard's loop, on real rings in this isolate: "peers before clients" (docs/architecture.md,
// ordering rules) must hold for a client record committed while the shard is inside a pass,
// between its peer drains and its client drain. On a loaded machine the shard's thread can lose
// its core right there while the other isolates go on: a peer commits a route for its new
// subscriber, sends the SUBACK, and the client that saw it publishes. That PUBLISH must be routed
// (MQTT 3.1.1 / MQTT 5 section 3.8.4: the SUBACK's subscription gets messages published after
// it); tests/22_seams_test.ts once lost it this way in CI.
import assert from "node:assert/strict";
import {
  createMesh,
  FieldReader,
  FieldWriter,
  RecordKind,
  ringDoorbell,
  RingReader,
  RingWriter,
} from "../ipc/mod.ts";
import { loadConfig } from "../config/mod.ts";
import { decodeMessage } from "../mqtt/mod.ts";
import { Shard } from "./shard.ts";

/** Shard `index` of `count` on real rings in this isolate; the test plays every other end. */
function shardOnRings(count: number, index: number) {
  const mesh = createMesh(count, 64 * 1024);
  const rings = mesh.shards[index]!;
  const shard = new Shard({ index, count, config: loadConfig({ sets: [], env: {} }), rings });
  const writers: RingWriter[] = [];
  const keep = (w: RingWriter) => {
    writers.push(w);
    return w;
  };
  return {
    shard,
    rings,
    /** Writes into the shard as peer shard `from`. */
    fromPeer: (from: number) =>
      keep(new RingWriter(mesh.shards[from]!.toPeers[index]!, rings.doorbell)),
    /** Writes into the shard as the supervisor. */
    fromSupervisor: () => keep(new RingWriter(rings.fromSupervisor, rings.doorbell)),
    /** Stops the shard's loop and closes the test's writers. */
    async stop(): Promise<void> {
      await shard.shutdown();
      ringDoorbell(rings.doorbell); // the loop sees it stopped and ends
      for (const w of writers) w.close();
    },
  };
}

Deno.test("a client record committed after the pass drained its peers waits for the route a peer committed first", async () => {
  const { shard, rings, fromPeer, fromSupervisor: supervisor, stop } = shardOnRings(2, 1);
  // The test plays shard 0 and the supervisor: the producers of shard 1's inbound rings and the
  // consumers of its outbound ones.
  const fromShard0 = fromPeer(0);
  const fromSupervisor = supervisor();
  const toShard0 = new RingReader(rings.toPeers[0]!);
  const toSupervisor = new RingReader(rings.toSupervisor);
  const filter = "t/after-suback";
  // A result of asynchronous work runs in a pass after its peer drains and before its client
  // drain: the moment the others act in, as if the shard's thread had been descheduled there.
  let acted = false;
  shard.svc.work.await(Promise.resolve(), () => {
    acted = true;
    fromShard0.write(RecordKind.RouteAdd, new FieldWriter().str(filter).finish());
    fromShard0.flush(); // shard 0's route before its SUBACK ...
    const request = new FieldWriter().u32(1).str("publish")
      .str(JSON.stringify({ messages: [{ topic: filter, payload: "after the SUBACK", qos: 1 }] }));
    fromSupervisor.write(RecordKind.Request, request.finish());
    fromSupervisor.flush(); // ... and the publish of someone who saw the SUBACK
  });
  shard.start();
  try {
    let reply: string | null = null;
    for (let i = 0; i < 500 && reply === null; i++) {
      await new Promise((r) => setTimeout(r, 10));
      toSupervisor.drain((kind, payload) => {
        if (kind !== RecordKind.Reply) return;
        const r = new FieldReader(payload);
        assert.equal(r.u32(), 1);
        assert.equal(r.u8(), 0, "the publish request succeeded");
        reply = r.str();
      });
    }
    assert.ok(acted, "the other isolates acted inside a pass");
    assert.equal(reply, "[0]", "the publish matched the route (0x10 would be: no subscribers)");
    const routed: number[] = [];
    toShard0.drain((kind) => routed.push(kind));
    assert.deepEqual(routed, [RecordKind.RoutedPublish], "the message went to shard 0");
  } finally {
    await stop();
  }
});

Deno.test("a peer record committed after the pass drained an earlier peer ring waits for what that ring got first", async () => {
  // Between peers the same holds: shard 0 stores a retained message and acknowledges it, a
  // client of shard 1 who saw the acknowledgement subscribes, and shard 1's retained query
  // reaches the owner, shard 2. The owner must apply the store before it answers the query
  // ("answer queries last" in docs/architecture.md relies on it).
  const { shard, fromPeer, stop } = shardOnRings(3, 2);
  const fromShard0 = fromPeer(0);
  const fromShard1 = fromPeer(1);
  const route = (filter: string) => new FieldWriter().str(filter).finish();
  const applied: string[] = [];
  const broker = shard.svc.broker;
  const apply = broker.applyPeerRecord.bind(broker);
  // While shard 2 handles the first record of ring 0 (the moment its thread may lose its core),
  // shard 0 commits the cause on ring 0 and then shard 1 its effect on ring 1.
  broker.applyPeerRecord = (from, kind, payload) => {
    const filter = new FieldReader(payload).str();
    applied.push(`${from}:${filter}`);
    if (filter === "first") {
      fromShard0.write(RecordKind.RouteAdd, route("cause"));
      fromShard0.flush();
      fromShard1.write(RecordKind.RouteAdd, route("effect"));
      fromShard1.flush();
    }
    return apply(from, kind, payload);
  };
  fromShard0.write(RecordKind.RouteAdd, route("first"));
  fromShard0.flush();
  shard.start();
  try {
    for (let i = 0; i < 500 && applied.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(applied, ["0:first", "0:cause", "1:effect"]);
  } finally {
    await stop();
  }
});

Deno.test("a timer's publish (a delayed message falling due) sees a route a peer committed before the timer fired", async () => {
  const { shard, rings, fromPeer, fromSupervisor: supervisor, stop } = shardOnRings(2, 1);
  const fromShard0 = fromPeer(0);
  const fromSupervisor = supervisor();
  const toShard0 = new RingReader(rings.toPeers[0]!);
  const toSupervisor = new RingReader(rings.toSupervisor);
  shard.start();
  try {
    // Bounded attempts: one counts only when the route went in before the message could be due
    // (a loaded machine can delay the test past that; then it tries again on a new topic).
    for (let attempt = 0; attempt < 5; attempt++) {
      const topic = `t/falls-due/${attempt}`;
      const sentAt = Date.now();
      const request = new FieldWriter().u32(attempt).str("publish").str(JSON.stringify({
        messages: [{ topic: `$delayed/1/${topic}`, payload: "due", qos: 1 }],
      }));
      fromSupervisor.write(RecordKind.Request, request.finish());
      fromSupervisor.flush();
      let replied = false;
      for (let i = 0; i < 500 && !replied; i++) {
        await new Promise((r) => setTimeout(r, 10));
        toSupervisor.drain((kind) => replied ||= kind === RecordKind.Reply);
      }
      assert.ok(replied, "the delayed message was taken");
      const repliedAt = Date.now();
      // Before it falls due, shard 0 commits the route of a new subscriber (whose SUBACK then
      // goes out) while the shard is inside a pass (a result of asynchronous work runs there),
      // and that pass lasts until the message is due: the timer fires in the event-loop turn
      // the loop gives before its next pass, which applies the route.
      let early = false;
      shard.svc.work.await(Promise.resolve(), () => {
        early = Date.now() < sentAt + 1000; // due at the earliest 1 s after the request
        fromShard0.write(RecordKind.RouteAdd, new FieldWriter().str(topic).finish());
        fromShard0.flush();
        while (Date.now() < repliedAt + 1050) { /* busy: due at the latest 1 s after the reply */ }
      });
      const routed: string[] = []; // this attempt's, not a late one of an earlier attempt
      for (let i = 0; i < 300 && routed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
        toShard0.drain((kind, payload) => {
          if (kind !== RecordKind.RoutedPublish) return;
          const m = decodeMessage(payload);
          if (m.topic === topic) routed.push(new TextDecoder().decode(m.payload));
        });
      }
      if (!early) continue;
      assert.deepEqual(routed, ["due"], "the due message went to shard 0");
      return;
    }
    assert.fail("the route never went in before the message was due (5 attempts)");
  } finally {
    await stop();
  }
});
